"""Request -> pre-check -> four-eyes approval -> job, against the real cluster and a real worker."""

from __future__ import annotations

import pytest
from django.core import mail

from audit.models import AuditEntry
from clusters.models import ClusterAccess
from jobs.models import Job
from selfservice.models import ChangeRequest, Notification
from tests.helpers import job_state, wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def orders(citus):
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ss_orders")
        conn.execute("CREATE TABLE ss_orders (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, v int)")
        conn.execute("INSERT INTO ss_orders SELECT g, g % 7, g FROM generate_series(1, 500) g")
    yield "public.ss_orders"
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS ss_orders")


def _ask(client, cluster, **fields):
    data = {"reason": "our tenant queries need it", "confirm": "yes", **fields}
    response = client.post(f"/c/{cluster.pk}/requests/new/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return ChangeRequest.objects.order_by("-id").first()


def _kind(citus, table):
    with citus.connect() as conn:
        row = conn.execute(
            "SELECT column_to_column_name(logicalrelid, partkey), partmethod FROM pg_dist_partition "
            "WHERE logicalrelid = %s::regclass",
            (table,),
        ).fetchone()
    return row


def test_a_failing_request_is_saved_but_approved_only_once_it_passes(
    client, requester, admin, second_admin, cluster_row, orders, citus, job_worker, settings
):
    settings.NOTIFY_BY_EMAIL = True
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    requester.email, admin.email = "rita@example.test", "alice@example.test"
    requester.save()
    admin.save()
    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    client.force_login(requester)

    preview = client.post(
        f"/c/{cluster_row.pk}/requests/new/",
        {"kind": "distribute", "table": orders, "column": "tenant_id", "shard_count": 4, "reason": "x"},
    ).content.decode()
    assert "does not include tenant_id" in preview  # the primary key (id) lacks the column
    assert "4 shards: about 125 rows" in preview  # 500 rows counted exactly
    assert "create_distributed_table(&#x27;public.ss_orders&#x27;" in preview or "create_distributed_table" in preview
    change = _ask(client, cluster_row, kind="distribute", table=orders, column="tenant_id", shard_count=4)
    assert change.state == "pending" and not change.passes
    assert "shard_count => 4" in change.statement and "tenant_id" in change.statement
    assert Notification.objects.filter(user=admin, text__contains="pre-check fails").exists()
    assert any("rita-requester asks" in m.subject for m in mail.outbox)

    client.force_login(admin)
    response = client.post(f"/requests/{change.pk}/decide/", {"decision": "approve", "comment": "ok"}, follow=True)
    assert "cannot be approved" in response.content.decode()
    change.refresh_from_db()
    assert change.state == "pending" and change.job is None and not Job.objects.exists()
    failed = AuditEntry.objects.filter(action="selfservice.approve", outcome="failed").get()
    assert "does not include tenant_id" in failed.error

    # the team fixes the key; the same request now passes at approval time
    with citus.connect() as conn:
        conn.execute("ALTER TABLE ss_orders DROP CONSTRAINT ss_orders_pkey")
        conn.execute("ALTER TABLE ss_orders ADD PRIMARY KEY (tenant_id, id)")
    response = client.post(f"/requests/{change.pk}/decide/", {"decision": "approve", "comment": "go ahead"})
    change.refresh_from_db()
    assert change.state == "approved" and change.job is not None, response.content.decode()[:2000]
    job = change.job
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.actor == requester and job.approved_by == admin
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 120, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert _kind(citus, "ss_orders") == ("tenant_id", "h")

    start = AuditEntry.objects.get(action="jobs.distribute_concurrently.start")
    assert start.actor_name == admin.username and start.parameters["requested_by"] == requester.username
    assert AuditEntry.objects.filter(action="selfservice.request", actor_name=requester.username).exists()
    assert AuditEntry.objects.filter(action="selfservice.approve", outcome="succeeded", job_id=job.pk).exists()
    inbox = list(Notification.objects.filter(user=requester).values_list("text", flat=True))
    assert any("approved by alice-admin" in t for t in inbox)
    assert any(f"job {job.pk} succeeded" in t for t in inbox)
    client.force_login(requester)
    page = client.get("/requests/inbox/").content.decode()
    assert "approved by alice-admin" in page
    assert "by rita-requester, approved by alice-admin" in client.get(f"/jobs/{job.pk}/").content.decode()


def test_four_eyes_the_requester_cannot_approve_and_a_rejection_needs_a_reason(
    client, admin, second_admin, cluster_row, orders
):
    client.force_login(admin)  # an Admin may ask too, but not decide on their own request
    change = _ask(client, cluster_row, kind="analyze", table=orders)
    assert change.passes and change.statement == 'ANALYZE "public"."ss_orders"'
    page = client.get(f"/requests/{change.pk}/").content.decode()
    assert 'id="approve"' not in page and "another Admin decides" in page
    client.post(f"/requests/{change.pk}/decide/", {"decision": "approve"})
    change.refresh_from_db()
    assert change.state == "pending"
    assert AuditEntry.objects.filter(action="selfservice.approve", outcome="denied", actor_name=admin.username).exists()

    client.force_login(second_admin)
    assert 'id="approve"' in client.get(f"/requests/{change.pk}/").content.decode()
    client.post(f"/requests/{change.pk}/decide/", {"decision": "reject", "comment": ""})
    change.refresh_from_db()
    assert change.state == "pending"  # no reason given
    client.post(f"/requests/{change.pk}/decide/", {"decision": "reject", "comment": "run it after the sale"})
    change.refresh_from_db()
    assert change.state == "rejected" and change.decided_by == second_admin
    assert Notification.objects.filter(user=admin, text__contains="run it after the sale").exists()
    assert AuditEntry.objects.filter(action="selfservice.reject", outcome="succeeded").exists()


def test_approval_checks_the_cluster_again(client, requester, admin, cluster_row, orders, citus):
    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    client.force_login(requester)
    change = _ask(client, cluster_row, kind="reference", table=orders)
    assert change.passes and "create_reference_table" in change.statement
    with citus.connect() as conn:  # meanwhile someone distributes it
        conn.execute("SELECT create_distributed_table('ss_orders', 'id', shard_count => 2)")
    client.force_login(admin)
    response = client.post(f"/requests/{change.pk}/decide/", {"decision": "approve"}, follow=True)
    assert "already a distributed table" in response.content.decode()
    change.refresh_from_db()
    assert change.state == "pending" and not change.passes and change.job is None


def test_shard_count_and_rebalance_requests_show_their_sql(client, requester, cluster_row, orders, citus):
    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    with citus.connect() as conn:
        conn.execute("SELECT create_distributed_table('ss_orders', 'id', shard_count => 2)")
    client.force_login(requester)
    page = client.post(
        f"/c/{cluster_row.pk}/requests/new/",
        {"kind": "shard_count", "table": orders, "shard_count": 8, "cascade_to_colocated": "on", "reason": "x"},
    ).content.decode()
    assert "alter_distributed_table" in page and "&quot;shard_count&quot; =&gt; 8" in page and 'id="check-ok"' in page
    page = client.post(f"/c/{cluster_row.pk}/requests/new/", {"kind": "rebalance", "reason": "x"}).content.decode()
    assert "citus_rebalance_start" in page


def test_a_request_names_a_real_table_with_a_space_and_a_dot(client, requester, cluster_row, citus):
    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    with citus.connect() as conn:
        conn.execute('CREATE TABLE "order items" (id bigint PRIMARY KEY)')
        conn.execute('CREATE TABLE "v1.2 events" (id bigint PRIMARY KEY)')
    try:
        client.force_login(requester)
        for typed, quoted in (
            ("public.order items", "&quot;public&quot;.&quot;order items&quot;"),
            ('public."v1.2 events"', "&quot;public&quot;.&quot;v1.2 events&quot;"),
        ):
            page = client.post(
                f"/c/{cluster_row.pk}/requests/new/", {"kind": "analyze", "table": typed, "reason": "stats"}
            ).content.decode()
            assert "Write the table as schema.table" not in page, typed
            assert quoted in page and 'id="check-ok"' in page, typed
    finally:
        with citus.connect() as conn:
            conn.execute('DROP TABLE IF EXISTS "order items", "v1.2 events"')


def test_split_qualified_reads_names_as_postgresql_does():
    from selfservice.forms import split_qualified

    assert split_qualified("public.orders") == ("public", "orders")
    assert split_qualified("public.order items") == ("public", "order items")
    assert split_qualified('"my.schema"."a ""b"""') == ("my.schema", 'a "b"')
    assert split_qualified("orders") is None and split_qualified("a.b.c") is None
    assert split_qualified("s." + "x" * 64) is None
