"""Requesters see only the clusters given to them and never reach the Admin forms."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from clusters.models import Cluster, ClusterAccess
from jobs.models import Job
from selfservice.models import ChangeRequest


@pytest.fixture
def two_clusters(db):
    given = Cluster.objects.create(name="team-a", host="127.0.0.1", port=1)
    hidden = Cluster.objects.create(name="secret-b", host="127.0.0.1", port=2)
    return given, hidden


def test_a_requester_sees_only_clusters_given_by_name(client, requester, admin, two_clusters):
    given, hidden = two_clusters
    client.force_login(admin)
    assert "none given" in client.get("/users/").content.decode()
    response = client.post(f"/users/{requester.pk}/clusters/", {"clusters": [given.pk]})
    assert response.status_code == 302
    assert list(ClusterAccess.objects.filter(user=requester).values_list("cluster__name", flat=True)) == ["team-a"]
    entry = AuditEntry.objects.filter(action="accounts.set_clusters").get()
    assert entry.parameters["clusters"] == ["team-a"] and entry.actor_name == admin.username
    users_page = client.get("/users/").content.decode()
    assert "none given" not in users_page and "<summary>team-a</summary>" in users_page

    client.force_login(requester)
    listing = client.get("/clusters/").content.decode()
    assert "team-a" in listing and "secret-b" not in listing
    assert client.get(f"/c/{hidden.pk}/tables/").status_code == 404
    assert client.get(f"/clusters/{hidden.pk}/").status_code == 404
    assert client.get(f"/c/{hidden.pk}/requests/new/").status_code == 404
    assert client.get("/audit/").status_code == 403
    # the switcher in the layout does not name it either
    assert "secret-b" not in client.get("/requests/").content.decode()


def test_jobs_and_requests_of_other_clusters_are_hidden(client, requester, admin, two_clusters):
    given, hidden = two_clusters
    ClusterAccess.objects.create(user=requester, cluster=given)
    mine = Job.objects.create(cluster=given, kind="analyze", target="public.a", actor_name="x", state="succeeded")
    other = Job.objects.create(
        cluster=hidden, kind="analyze", target="public.zz_hidden", actor_name="x", state="queued"
    )
    client.force_login(requester)
    listing = client.get("/jobs/").content.decode()
    assert "public.a" in listing and "zz_hidden" not in listing
    assert client.get(f"/jobs/{mine.pk}/").status_code == 200
    assert client.get(f"/jobs/{other.pk}/").status_code == 404
    assert client.get(f"/jobs/{other.pk}/progress/").status_code == 404
    theirs = ChangeRequest.objects.create(
        cluster=given,
        kind="analyze",
        target="public.a",
        statement="ANALYZE a",
        checked_at=mine.created_at,
        requested_by=admin,
        requested_by_name=admin.username,
    )
    assert client.get(f"/requests/{theirs.pk}/").status_code == 404  # someone else's request


@pytest.mark.parametrize(
    "url",
    [
        "/c/{c}/tables/1/distribute/",
        "/c/{c}/rebalance/",
        "/c/{c}/nodes/add/",
        "/clusters/add/",
        "/users/",
    ],
)
def test_a_requester_cannot_reach_the_admin_forms(client, requester, two_clusters, url):
    given, _ = two_clusters
    ClusterAccess.objects.create(user=requester, cluster=given)
    client.force_login(requester)
    path = url.format(c=given.pk)
    assert client.get(path).status_code == 403
    assert client.post(path, {"confirm": "yes"}).status_code == 403


def test_a_requester_cannot_decide_even_by_posting(client, requester, admin, two_clusters):
    given, _ = two_clusters
    ClusterAccess.objects.create(user=requester, cluster=given)
    change = ChangeRequest.objects.create(
        cluster=given,
        kind="analyze",
        target="public.a",
        statement="ANALYZE a",
        checked_at="2026-01-01T00:00:00Z",
        requested_by=requester,
        requested_by_name=requester.username,
    )
    client.force_login(requester)
    assert client.post(f"/requests/{change.pk}/decide/", {"decision": "approve"}).status_code == 403
    change.refresh_from_db()
    assert change.state == "pending" and change.job is None
    assert AuditEntry.objects.filter(outcome="denied", action="selfservice.decide_change").exists()


def test_a_request_against_a_coordinator_that_is_down_is_not_saved(client, requester, two_clusters):
    given, _ = two_clusters  # port 1: nothing listens
    ClusterAccess.objects.create(user=requester, cluster=given)
    client.force_login(requester)
    response = client.post(
        f"/c/{given.pk}/requests/new/", {"kind": "analyze", "table": "public.t", "reason": "x", "confirm": "yes"}
    )
    assert response.status_code == 200
    assert 'class="banner banner-bad"' in response.content.decode()
    assert not ChangeRequest.objects.exists()


def _requests(cluster, user, count):
    ChangeRequest.objects.bulk_create(
        ChangeRequest(
            cluster=cluster,
            kind="analyze",
            target=f"public.t{i}",
            statement=f"ANALYZE t{i}",
            checked_at="2026-01-01T00:00:00Z",
            requested_by=user,
            requested_by_name=user.username,
        )
        for i in range(count)
    )


def test_the_request_list_and_inbox_cost_the_same_at_any_length(client, admin, requester, two_clusters):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from selfservice.models import Notification

    given, _ = two_clusters
    client.force_login(admin)
    client.get("/requests/")  # the first request also loads the session and permissions
    counts = []
    for size in (3, 120):
        _requests(given, requester, size)
        Notification.objects.bulk_create(Notification(user=admin, text=f"n{i}") for i in range(size))
        with CaptureQueriesContext(connection) as listing:
            page = client.get("/requests/").content.decode()
        with CaptureQueriesContext(connection) as inbox:
            client.get("/requests/inbox/")
        counts.append((len(listing), len(inbox)))
    assert counts[0] == counts[1], counts
    assert page.count('<tr><td><a href="/requests/') == 50  # one page; the next by key
    assert "Older →" in page


def test_a_polled_job_fragment_does_not_count_notifications_but_the_page_does(client, viewer, two_clusters):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    given, _ = two_clusters
    job = Job.objects.create(cluster=given, kind="analyze", target="public.a", actor_name="x", state="running")
    client.force_login(viewer)
    client.get(f"/jobs/{job.pk}/")
    with CaptureQueriesContext(connection) as poll:
        client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as page:
        client.get(f"/jobs/{job.pk}/")
    assert not any("selfservice_notification" in q["sql"] for q in poll.captured_queries)
    assert sum("selfservice_notification" in q["sql"] for q in page.captured_queries) == 1
