"""Two people in real Chromium: a requester asks, an Admin approves, the requester watches the job."""

from __future__ import annotations

import time

import pytest

from clusters.models import ClusterAccess
from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.broker]


@pytest.fixture
def team_table(citus):
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS team_events")
        conn.execute("CREATE TABLE team_events (tenant_id bigint, id bigint, body text, PRIMARY KEY (tenant_id, id))")
        conn.execute("INSERT INTO team_events SELECT g % 11, g, 'x' FROM generate_series(1, 2000) g")
    yield "public.team_events"
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS team_events")


def test_request_approve_and_follow_the_job(
    live_server, requester, admin, cluster_row, team_table, job_worker, browser_page, citus
):
    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    rita = browser_page
    sign_in(rita, live_server, requester)
    rita.goto(f"{live_server.url}/c/{cluster_row.pk}/requests/new/?table={team_table}")
    rita.select_option("#id_kind", "distribute")
    rita.fill("#id_column", "tenant_id")
    rita.fill("#id_shard_count", "4")
    rita.fill("#id_reason", "tenant queries scan the whole table")
    rita.click("#check-request")
    rita.wait_for_selector("#check-ok")
    assert "create_distributed_table" in rita.inner_text("#preview-sql")
    rita.click("#submit-request")
    rita.wait_for_url("**/requests/*/")
    request_url = rita.url
    assert "waiting for approval" in rita.inner_text("#request-state")

    # a second person, in a separate browser context (own cookies)
    other = rita.context.browser.new_context()
    alice = other.new_page()
    sign_in(alice, live_server, admin)
    alice.goto(f"{live_server.url}/requests/?state=pending")
    assert "1" in alice.inner_text("#unread-count")  # notified of the new request
    alice.click(f"#request-list a[href='{request_url.replace(live_server.url, '')}']")
    alice.fill("#id_comment", "fine, off-peak now")
    alice.click("#approve")
    alice.wait_for_url("**/jobs/*/")
    job_path = alice.url.replace(live_server.url, "")
    other.close()

    rita.goto(request_url)
    assert "approved" in rita.inner_text("#request-state")
    assert "alice-admin" in rita.inner_text("#decided-by")
    rita.click("#request-job")
    rita.wait_for_url(f"**{job_path}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the job page polls itself; no reload
        if rita.get_attribute("#job-progress", "data-state") in ("succeeded", "failed", "cancelled", "interrupted"):
            break
        time.sleep(0.3)
    assert rita.get_attribute("#job-progress", "data-state") == "succeeded", job_worker.logs()
    assert "approved by alice-admin" in rita.inner_text("#job-progress")
    rita.goto(f"{live_server.url}/requests/inbox/")
    inbox = rita.inner_text("#notifications")
    assert "approved by alice-admin" in inbox and "succeeded" in inbox
    with citus.connect() as conn:
        assert (
            conn.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'team_events'::regclass").fetchone()[
                0
            ]
            == 4
        )
    assert rita.console_errors == []
