"""The monitoring area against the real cluster (pg_stat_statements preloaded, tracking 'all')."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from audit.models import AuditEntry
from citusadmin.citus import monitoring
from citusadmin.citus.connection import count_queries
from monitoring import collector


@pytest.fixture
def events(citus):
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS mon_events")
        conn.execute("CREATE TABLE mon_events (tenant_id bigint, id bigint, v int, PRIMARY KEY (tenant_id, id))")
        conn.execute("SELECT create_distributed_table('mon_events', 'tenant_id', shard_count => 4)")
        conn.execute("INSERT INTO mon_events SELECT g % 5, g, 0 FROM generate_series(1, 200) g")
    yield "mon_events"
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS mon_events")


def _page(client, url):
    with count_queries() as counter:
        started = time.monotonic()
        response = client.get(url)
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode(), counter.count, elapsed


def test_queries_show_router_and_multi_shard_statements_and_flag_the_latter(
    client, viewer, cluster_row, events, citus, worker_heartbeat
):
    with citus.connect() as conn:
        for tenant in (1, 2, 3):
            conn.execute("SELECT v FROM mon_events WHERE tenant_id = %s AND id = %s", (tenant, tenant + 5))
        conn.execute("SELECT count(*) FROM mon_events WHERE v >= %s", (0,))
    client.force_login(viewer)
    page, statements, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/queries/")
    assert statements == 2  # what the cluster offers, then the statistics
    assert "banner-bad" not in page
    rows = page.split('<tr class="statement ')
    router = [r for r in rows if "FROM mon_events WHERE tenant_id = $1" in r]
    multi = [r for r in rows if "count(*) FROM mon_events WHERE v &gt;= $1" in r]
    assert router and router[0].startswith("routing-router") and "needs-key" not in router[0]
    assert multi and multi[0].startswith("routing-multi-shard")
    assert "use the distribution column in WHERE" in multi[0]
    assert "3 values" in router[0]  # the partition key values seen
    assert 'id="measured-at"' in page
    by_time, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/queries/?order=time")
    assert "banner-bad" not in by_time and "count(*) FROM mon_events" in by_time


def test_prerequisites_are_explained_instead_of_failing():
    missing = monitoring.Prerequisites(
        measured_at=datetime.now(UTC),
        preload="citus",
        pgss_created=False,
        statements_track="none",
        tenants_track="none",
        compute_query_id="auto",
        relations=["citus_stat_statements", "citus_stat_tenants"],
        superuser=False,
        pg_monitor=False,
    )
    text = " ".join(missing.statements_missing)
    assert "shared_preload_libraries = 'citus, pg_stat_statements'" in text
    assert "CREATE EXTENSION pg_stat_statements" in text and "citus.stat_statements_track" in text
    assert any("stat_tenants_track" in m for m in missing.tenants_missing)
    assert any("pg_monitor" in m for m in missing.tenants_missing)
    old = monitoring.Prerequisites(**{**missing.__dict__, "relations": []})
    assert old.statements_missing == ["This Citus version has no citus_stat_statements view."]


def test_the_sandbox_has_every_prerequisite(client, viewer, cluster_row):
    client.force_login(viewer)
    page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/tenants/")
    assert 'id="prerequisites"' not in page and 'id="tenants"' in page


def test_a_blocked_session_shows_in_lock_waits_and_can_be_cancelled(client, operator, cluster_row, events, citus):
    holder = psycopg.connect(**citus.params)
    holder.execute("UPDATE mon_events SET v = 1 WHERE tenant_id = 1 AND id = 6")  # transaction left open
    outcome: dict[str, object] = {}

    def wait_for_lock() -> None:
        with psycopg.connect(**citus.params, autocommit=True) as waiter:
            try:
                waiter.execute("UPDATE mon_events SET v = 2 WHERE tenant_id = 1 AND id = 6")
                outcome["result"] = "updated"
            except psycopg.errors.QueryCanceled as exc:
                outcome["result"] = f"cancelled: {exc}"

    client.force_login(operator)
    _, quiet, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/locks/")
    # offers, timeouts on, the wait edges (one fan-out; nothing waits, so no second), timeouts back
    assert quiet == 4
    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        page = ""
        while time.monotonic() < deadline:
            page, statements, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/locks/")
            if 'class="lock-wait"' in page:
                break
            time.sleep(0.5)
        assert 'class="lock-wait"' in page and "SET v = 2" in page and "SET v = 1" in page
        assert statements == 5  # offers, timeouts on, the wait edges, citus_lock_waits, timeouts back
        waiting = page.split('class="lock-wait"')[1].split("<code>")[1].split("</code>")[0]
        response = client.post(
            f"/c/{cluster_row.pk}/monitoring/signal/", {"global_pid": waiting, "action": "cancel", "from": "locks"}
        )
        assert response.status_code == 302
        thread.join(10)
        assert str(outcome.get("result", "")).startswith("cancelled"), outcome
        entry = AuditEntry.objects.get(action="monitoring.cancel_session")
        assert entry.outcome == "succeeded" and entry.parameters["global_pid"] == int(waiting)
        assert "pg_cancel_backend" in entry.sql
    finally:
        holder.rollback()
        holder.close()
        thread.join(10)


def test_cancel_and_terminate_need_their_permission(client, viewer, cluster_row):
    client.force_login(viewer)
    for action in ("cancel", "terminate"):
        response = client.post(
            f"/c/{cluster_row.pk}/monitoring/signal/", {"global_pid": "10000000001", "action": action}
        )
        assert response.status_code == 403
    denied = AuditEntry.objects.get(outcome="denied", action="monitoring.terminate_session")
    assert denied.cluster_id == cluster_row.pk and denied.actor_name == viewer.username
    assert client.post(f"/c/{cluster_row.pk}/monitoring/reset/").status_code == 403


def test_activity_lists_distributed_sessions_with_their_global_pid(client, operator, cluster_row, events, citus):
    with psycopg.connect(**citus.params, autocommit=True) as busy:
        busy.execute("SET application_name = 'mon-sleeper'")
        thread = threading.Thread(target=lambda: _swallow(busy, "SELECT pg_sleep(4), count(*) FROM mon_events"))
        thread.start()
        time.sleep(0.8)
        client.force_login(operator)
        page, statements, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/activity/")
        thread.join(10)
    assert statements == 4
    assert "mon-sleeper" in page and "pg_sleep(4)" in page
    assert "Terminate" in page and "Cancel" in page


def _swallow(conn, query):
    with contextlib.suppress(psycopg.Error):
        conn.execute(query)


def test_tenant_statistics_appear_for_two_tenants(client, viewer, cluster_row, events, citus):
    with citus.connect() as conn:
        conn.execute("SELECT citus_stat_tenants_reset()")
        for _ in range(3):
            conn.execute("SELECT * FROM mon_events WHERE tenant_id = 3")
        conn.execute("SELECT * FROM mon_events WHERE tenant_id = 4")
    client.force_login(viewer)
    page, statements, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/tenants/")
    assert statements == 4
    tenants = {row.split("<code>")[1].split("</code>")[0]: row for row in page.split('<tr class="tenant">')[1:]}
    assert {"3", "4"} <= set(tenants)
    assert "public.mon_events" in tenants["3"] or "mon_events" in tenants["3"]


def test_a_tenant_row_names_three_co_located_tables_and_counts_the_rest(client, viewer, cluster_row, events, citus):
    with citus.connect() as conn:
        for i in range(5):
            conn.execute(f"CREATE TABLE mon_co{i} (tenant_id bigint, id bigint)")
            conn.execute(f"SELECT create_distributed_table('mon_co{i}', 'tenant_id', colocate_with => 'mon_events')")
        conn.execute("SELECT citus_stat_tenants_reset()")
        conn.execute("SELECT * FROM mon_events WHERE tenant_id = 3")
    try:
        client.force_login(viewer)
        page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/tenants/")
        row = page.split('<tr class="tenant">')[1].split("</tr>")[0]
        assert "and 3 more" in row and row.count("mon_") == 3
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE " + ", ".join(f"mon_co{i}" for i in range(5)))


def test_health_turns_red_for_a_stopped_worker_and_green_again(client, viewer, cluster_row, controllable):
    client.force_login(viewer)
    url = f"/c/{cluster_row.pk}/monitoring/health/"
    page, statements, _ = _page(client, url)
    assert statements == 5  # offers, catalog facts, timeouts on, reachability, timeouts back
    assert 'id="check-reachable" data-status="green"' in page
    with controllable.worker_stopped(1):
        page, statements, elapsed = _page(client, url)
        assert 'id="check-reachable" data-status="red"' in page
        assert f"127.0.0.1:{controllable.workers[1].port}" in page
        assert 'id="overall" data-status="red"' in page
        assert elapsed < 3
    page, _, _ = _page(client, url)
    assert 'id="check-reachable" data-status="green"' in page


def test_fan_out_pages_answer_within_3s_with_a_hung_worker_and_name_it(client, viewer, cluster_row, hung_worker):
    client.force_login(viewer)
    for tab in ("activity", "locks", "tenants", "health"):
        page, _, elapsed = _page(client, f"/c/{cluster_row.pk}/monitoring/{tab}/")
        assert elapsed < 3, (tab, elapsed)
        assert f"127.0.0.1:{hung_worker.port}" in page, tab


def test_history_chart_has_points_after_two_collections(client, viewer, cluster_row, events):
    collector.collect(cluster_row)
    collector.collect(cluster_row)
    client.force_login(viewer)
    with count_queries() as counter:
        page = client.get(f"/c/{cluster_row.pk}/monitoring/history/").content.decode()
    assert counter.count == 0  # the console's own database only (names are kept with each measurement)
    assert "2 collections" in page
    charts = page.split('<svg class="chart"')[1:]
    assert len(charts) == 3
    points = [int(c.split('data-points="')[1].split('"')[0]) for c in charts]
    assert all(p >= 2 for p in points), points
    assert "mon_events" in page and "UTC" in page
    assert "<polyline" in charts[0]


def test_the_panel_refreshes_itself_and_can_be_paused(client, viewer, cluster_row):
    client.force_login(viewer)
    page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/health/")
    assert 'id="pause-refresh"' in page and 'hx-trigger="every 10s"' in page
    fragment = client.get(f"/c/{cluster_row.pk}/monitoring/health/", HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div id="panel"') and "<html" not in fragment


def test_requesters_do_not_see_monitoring(client, requester, cluster_row):
    from clusters.models import ClusterAccess

    ClusterAccess.objects.create(user=requester, cluster=cluster_row)
    client.force_login(requester)
    assert client.get(f"/c/{cluster_row.pk}/monitoring/activity/").status_code == 403


@pytest.mark.parametrize(
    ("value", "unit", "top"),
    [
        (0, "count", 4),
        (1, "count", 4),
        (7, "count", 10),
        (37, "count", 50),
        (900, "bytes", 1000),
        (3 * 1024**2, "bytes", 5 * 1024**2),
    ],
)
def test_chart_axes_end_on_round_numbers(value, unit, top):
    from monitoring.charts import nice_top

    assert nice_top(value, unit) == top


def test_an_operator_terminates_a_session_and_it_is_audited(client, operator, cluster_row, citus):
    victim = psycopg.connect(**citus.params, autocommit=True)
    victim.execute("SET application_name = 'mon-victim'")
    thread = threading.Thread(target=lambda: _swallow(victim, "SELECT pg_sleep(30)"))
    thread.start()
    try:
        client.force_login(operator)
        deadline = time.monotonic() + 10
        gpid = None
        while gpid is None and time.monotonic() < deadline:
            page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/activity/")
            for row in page.split("<tr data-gpid=")[1:]:
                if "mon-victim" in row:
                    gpid = row.split('"')[1]
            time.sleep(0.3)
        assert gpid is not None
        # a browser that lies about the query changes nothing in the record
        response = client.post(
            f"/c/{cluster_row.pk}/monitoring/signal/",
            {"global_pid": gpid, "action": "terminate", "query": "SELECT 1 -- harmless health probe"},
        )
        assert response.status_code == 302
        thread.join(10)
        assert not thread.is_alive()
        assert victim.closed or victim.broken
        entry = AuditEntry.objects.get(action="monitoring.terminate_session")
        assert entry.outcome == "succeeded" and f"SELECT pg_terminate_backend({gpid}::bigint)" in entry.sql
        assert entry.parameters["query"] == "SELECT pg_sleep(30)"
        assert entry.parameters["application_name"] == "mon-victim" and entry.parameters["user"] == "postgres"
        assert "harmless" not in str(entry.parameters)
    finally:
        victim.close()


def test_an_admin_resets_query_statistics(client, admin, cluster_row, events, citus):
    with citus.connect() as conn:
        conn.execute("SELECT count(*) FROM mon_events WHERE v >= %s", (0,))
    client.force_login(admin)
    page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/queries/")
    assert "FROM mon_events" in page
    assert client.post(f"/c/{cluster_row.pk}/monitoring/reset/", {"what": "queries"}).status_code == 302
    page, _, _ = _page(client, f"/c/{cluster_row.pk}/monitoring/queries/")
    assert "FROM mon_events" not in page
    assert AuditEntry.objects.filter(action="monitoring.reset_query_stats", outcome="succeeded").exists()


@pytest.mark.parametrize("tab", ["health", "queries", "activity", "locks", "tenants", "history"])
def test_a_coordinator_that_is_down_gives_a_message_not_an_error(client, viewer, tab):
    from clusters.models import Cluster

    down = Cluster.objects.create(name="down", host="127.0.0.1", port=1)
    client.force_login(viewer)
    started = time.monotonic()
    response = client.get(f"/c/{down.pk}/monitoring/{tab}/")
    assert time.monotonic() - started < 2  # a refused connection is said at once, not after the pool's timeout
    assert response.status_code == 200
    page = response.content.decode()
    if tab == "history":
        assert "No measurements in this range yet." in page
    else:
        assert 'class="banner banner-bad"' in page and "refused" in page.lower()


def test_per_table_history_is_thinned_to_one_collection_an_hour(db, settings):
    from datetime import timedelta

    from clusters.models import Cluster
    from monitoring.models import Collection, NodeSnapshot, TableSnapshot

    settings.HISTORY_FULL_RESOLUTION_HOURS = 2
    cluster = Cluster.objects.create(name="thin", host="127.0.0.1", port=1)
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    made = {}
    for label, at in {
        "old-a": now.replace(hour=9, minute=5),
        "old-b": now.replace(hour=9, minute=20),
        "old-c": now.replace(hour=9, minute=40),
        "old-next-hour": now.replace(hour=10, minute=1),
        "recent": now - timedelta(minutes=30),
    }.items():
        c = Collection.objects.create(cluster=cluster, started_at=at, measured_at=at, finished=True, ok=True)
        NodeSnapshot.objects.create(collection=c, nodeid=1, groupid=1, nodename="w", nodeport=1, bytes=1)
        TableSnapshot.objects.bulk_create(
            TableSnapshot(collection=c, relid=r, bytes=r, shards=4, sized_shards=4) for r in (1, 2)
        )
        made[label] = c
    collector.prune(now)
    rows = {label: TableSnapshot.objects.filter(collection=c).count() for label, c in made.items()}
    assert rows == {"old-a": 2, "old-b": 0, "old-c": 0, "old-next-hour": 2, "recent": 2}
    assert NodeSnapshot.objects.count() == 5  # node history stays at full resolution
    collector.prune(now + timedelta(minutes=5))  # again: nothing more is lost
    assert TableSnapshot.objects.count() == 6


def test_each_health_check_gives_its_colour_reason_and_fix():
    from monitoring import health

    prereq = monitoring.Prerequisites(
        measured_at=datetime.now(UTC),
        preload="citus,pg_stat_statements",
        pgss_created=True,
        statements_track="all",
        tenants_track="all",
        compute_query_id="on",
        relations=list(monitoring.VIEWS),
        superuser=True,
        pg_monitor=True,
    )
    from citusadmin.citus.nodes import Node

    def node(nodeid, active=True, missing_reference=0):
        return Node(
            nodeid=nodeid,
            groupid=nodeid,
            nodename=f"w{nodeid}",
            nodeport=5432,
            noderole="primary",
            nodecluster="default",
            isactive=active,
            hasmetadata=True,
            metadatasynced=True,
            shouldhaveshards=True,
            placements=4,
            reference_placements=3 - missing_reference,
            missing_reference_placements=missing_reference,
        )

    nodes = [node(1), node(2, missing_reference=1), node(3, active=False)]
    facts = monitoring.HealthFacts(
        measured_at=datetime.now(UTC),
        cleanup_records=2,
        cleanup_oldest="public.t_102008",
        cleanup_orphaned=0,
        failed_tasks=["job 7 task 9: could not connect"],
        retrying_tasks=[],
        reachability=[{"nodeid": 1, "reachable": True}, {"nodeid": 2, "reachable": True}],
    )
    checks = {c.key: c for c in health.evaluate(prereq, nodes, facts, [], None)}
    assert checks["reachable"].status == "green" and checks["metadata"].status == "green"
    assert checks["inactive"].status == "amber" and "w3:5432" in checks["inactive"].reason
    assert checks["cleanup"].status == "amber" and "citus_cleanup_orphaned_resources" in checks["cleanup"].fix
    assert checks["tasks"].status == "red" and "could not connect" in checks["tasks"].reason
    assert checks["reference"].status == "red" and checks["reference"].fix == "SELECT replicate_reference_tables();"
    assert checks["skew"].status == "unknown" and "Not measured yet" in checks["skew"].reason
    assert health.overall(list(checks.values())) == "red"
    from dataclasses import replace

    orphaned = health.evaluate(prereq, nodes, replace(facts, cleanup_orphaned=1), [], None)
    cleanup = next(c for c in orphaned if c.key == "cleanup")
    assert cleanup.status == "red" and "no longer exists" in cleanup.reason and "cleanup page" in cleanup.fix


def test_history_names_a_table_after_it_was_dropped(client, viewer, cluster_row, citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE hist_gone (id bigint PRIMARY KEY, pad text)")
        conn.execute("SELECT create_distributed_table('hist_gone', 'id', shard_count => 4)")
        conn.execute("INSERT INTO hist_gone SELECT g, repeat('x', 500) FROM generate_series(1, 5000) g")
    collector.collect(cluster_row)
    collector.collect(cluster_row)
    with citus.connect() as conn:
        conn.execute("DROP TABLE hist_gone")
    client.force_login(viewer)
    page = client.get(f"/c/{cluster_row.pk}/monitoring/history/").content.decode()
    assert "hist_gone" in page and "relation " not in page


def test_fifty_viewers_of_activity_cost_one_fan_out(live_server, viewer, cluster_row, settings):
    """Each refresh of each viewer used to run citus_dist_stat_activity on every node."""
    import threading
    import urllib.request

    from django.core.cache import caches
    from django.test import Client

    settings.MONITORING_SHARE_SECONDS = 10
    caches["shared"].clear()
    client = Client()
    client.force_login(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    url = f"{live_server.url}/c/{cluster_row.pk}/monitoring/activity/"
    statuses: list[int] = []

    def view() -> None:
        request = urllib.request.Request(url, headers={"Cookie": cookie, "HX-Request": "true"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode()
            statuses.append(response.status if "Measured" in body or "measured" in body else -1)

    with count_queries() as counter:
        threads = [threading.Thread(target=view) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    fan_outs = [s for s in counter.statements if 'FROM "citus_dist_stat_activity"' in s]
    assert statuses == [200] * 50, statuses
    assert len(fan_outs) == 1, len(fan_outs)


def test_a_hung_worker_and_thirty_viewers_do_not_hold_the_console(
    live_server, viewer, cluster_row, hung_worker, settings
):
    """Each Lock waits refresh held a web thread for the node timeout, twice; with 50 viewers even the
    jobs list (which never touches Citus) took seconds. One viewer computes, the others get the last
    figure; the rest of the console answers at its usual pace."""
    import statistics
    import urllib.request

    from django.test import Client

    settings.MONITORING_SHARE_SECONDS = 10
    client = Client()
    client.force_login(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    def get(url: str) -> float:
        started = time.monotonic()
        request = urllib.request.Request(url, headers={"Cookie": cookie})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            assert response.status == 200
        return time.monotonic() - started

    locks = f"{live_server.url}/c/{cluster_row.pk}/monitoring/locks/"
    jobs = f"{live_server.url}/jobs/"
    idle = statistics.median(get(jobs) for _ in range(5))
    lock_times: list[float] = []
    with count_queries() as counter:
        threads = [threading.Thread(target=lambda: lock_times.append(get(locks))) for _ in range(30)]
        for t in threads:
            t.start()
        busy = [get(jobs) for _ in range(5)]
        for t in threads:
            t.join(60)
    assert len(lock_times) == 30 and max(lock_times) < 3.0, max(lock_times)
    assert statistics.median(busy) < max(2 * idle, 0.25), (idle, busy)
    waits = [s for s in counter.statements if "citus_lock_waits" in s and "FROM" in s.upper()]
    assert len(waits) <= 2, len(waits)  # one computation (a second only if the first outlived the interval)
