"""The API reaches what the pages change, through the pages' own actions: tables (distribute,
reference, analyze as a job, grant, undistribute), nodes (add, should-have-shards, drain-and-remove
as a job), change requests with four eyes, the audit trail for Auditors, health, and an
Idempotency-Key raced by two clients. A real HTTP client, real tokens, the real cluster, a real
Celery worker where a job runs."""

from __future__ import annotations

import json
import threading

import pytest

from accounts import actions
from audit.models import AuditEntry
from jobs.models import Job
from tests.helpers import job_state, wait_for
from tests.test_api import _call


@pytest.fixture
def api(live_server):
    return f"{live_server.url}/api/v1"


def _relid(api: str, token: str, cluster_id: int, name: str) -> int:
    status, body, _ = _call(f"{api}/clusters/{cluster_id}/tables?name={name}&limit=20", token)
    assert status == 200, body
    found = [t for t in body["tables"] if t["name"] == f"public.{name}"]
    assert found, body
    return found[0]["relid"]


def _follow(api: str, token: str, job_id: int, worker) -> dict:
    wait_for(lambda: job_state(job_id) in Job.FINAL_STATES, 180, message=worker.logs())
    status, job, _ = _call(f"{api}/jobs/{job_id}", token)
    assert status == 200
    return job


def test_tables_through_the_api_same_actions_same_audit(api, admin, cluster_row, citus, job_worker):
    _, token = actions.do_create_token(admin, "terraform", "write", 30)
    cid = cluster_row.pk
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS api_orders, api_lookup")
        conn.execute("CREATE TABLE api_orders (id bigint PRIMARY KEY, customer int, total numeric)")
        conn.execute("INSERT INTO api_orders SELECT g, g % 50, g FROM generate_series(1, 2000) g")
        conn.execute("CREATE TABLE api_lookup (code text PRIMARY KEY, label text)")
    try:
        relid = _relid(api, token, cid, "api_orders")
        base = f"{api}/clusters/{cid}/tables/{relid}"
        # preview sends nothing
        status, body, _ = _call(
            f"{base}/distribute", token, "POST", {"column": "id", "shard_count": 4, "preview": True}
        )
        assert status == 200 and "create_distributed_table" in body["statement"] and body["refusal"] is None
        with citus.connect() as conn:
            assert (
                conn.execute(
                    "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'api_orders'::regclass"
                ).fetchone()[0]
                == 0
            )
        # a column that does not exist is refused by the page's own form, field by field
        status, body, _ = _call(f"{base}/distribute", token, "POST", {"column": "nope"})
        assert status == 422 and "column" in body["errors"]
        status, body, _ = _call(f"{base}/distribute", token, "POST", {"column": "id", "shard_count": 4})
        assert status == 200, body
        assert "distributed by id" in body["done"] and "create_distributed_table" in body["statement"]
        entry = AuditEntry.objects.filter(action="tables.distribute_table").latest("pk")
        assert entry.source == "api" and entry.outcome == "succeeded" and "create_distributed_table" in entry.sql
        assert entry.parameters["api_token"].startswith("terraform (")
        status, detail, _ = _call(base, token)
        assert status == 200 and detail["kind"] == "distributed" and len(detail["shards"]) == 4
        assert all(s["nodes"] for s in detail["shards"])
        # a job kind through the table's operation: 202 and a job that finishes
        status, job, _ = _call(f"{base}/analyze", token, "POST", {})
        assert status == 202 and job["kind"] == "analyze"
        assert _follow(api, token, job["id"], job_worker)["state"] == "succeeded"
        # a grant with a privilege that does not exist is refused; a good one runs
        status, body, _ = _call(f"{base}/grant", token, "POST", {"privilege": "OWN", "role": "public"})
        assert status == 422 and "privilege" in body["errors"]
        status, body, _ = _call(f"{base}/grant", token, "POST", {"privilege": "SELECT", "role": "public"})
        assert status == 200 and "GRANT" in body["statement"], body
        lookup = _relid(api, token, cid, "api_lookup")
        status, body, _ = _call(f"{api}/clusters/{cid}/tables/{lookup}/reference", token, "POST", {})
        assert status == 200 and "reference table" in body["done"]
        status, groups, _ = _call(f"{api}/clusters/{cid}/colocations", token)
        assert status == 200 and any("api_orders" in g["tables"] for g in groups["groups"]), groups
        ours = next(g for g in groups["groups"] if "api_orders" in g["tables"])
        assert sum(ours["placements_per_node"].values()) == 4
        status, body, _ = _call(f"{base}/undistribute", token, "POST", {})
        assert status == 200 and "plain PostgreSQL table" in body["done"], body
        status, body, _ = _call(f"{base}/no-such-operation", token, "POST", {})
        assert status == 404 and "one of" in body["detail"]
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS api_orders, api_lookup")


def test_nodes_through_the_api_add_then_drain_and_remove(api, admin, cluster_row, citus, spare_node, job_worker):
    _, token = actions.do_create_token(admin, "ansible", "write", 30)
    cid = cluster_row.pk
    add = {"host": "127.0.0.1", "port": spare_node.port}
    status, body, _ = _call(f"{api}/clusters/{cid}/nodes", token, "POST", {**add, "preview": True})
    assert status == 200 and "citus_add_node" in body["statement"]
    status, body, _ = _call(f"{api}/clusters/{cid}/nodes", token, "POST", {"host": "bad host!", "port": 5432})
    assert status == 422 and "host" in body["errors"]
    status, body, _ = _call(f"{api}/clusters/{cid}/nodes", token, "POST", add)
    assert status == 200 and "was added" in body["done"], body
    with citus.connect() as conn:
        nodeid = conn.execute("SELECT nodeid FROM pg_dist_node WHERE nodeport = %s", (spare_node.port,)).fetchone()[0]
    node = f"{api}/clusters/{cid}/nodes/{nodeid}"
    status, body, _ = _call(f"{node}/should-have-shards", token, "POST", {"value": False})
    assert status == 200 and "will receive no" in body["done"], body
    status, body, _ = _call(f"{node}/should-have-shards", token, "POST", {"value": True})
    assert status == 200
    status, body, _ = _call(f"{api}/clusters/{cid}/nodes/999999/activate", token, "POST", {})
    assert status == 404
    status, body, _ = _call(f"{node}/drain", token, "POST", {"remove": True, "preview": True})
    assert status == 200 and "citus_set_node_property" in body["statement"] and body["refusal"] is None
    status, job, _ = _call(
        f"{node}/drain", token, "POST", {"remove": True, "transfer_mode": "block_writes"}, Idempotency_Key="retire-1"
    )
    assert status == 202 and job["kind"] == "drain_and_remove", job
    again = _call(
        f"{node}/drain", token, "POST", {"remove": True, "transfer_mode": "block_writes"}, Idempotency_Key="retire-1"
    )
    assert again[1]["id"] == job["id"]  # a retried call never starts a second job
    finished = _follow(api, token, job["id"], job_worker)
    assert finished["state"] == "succeeded", finished
    with citus.connect() as conn:
        left = conn.execute("SELECT count(*) FROM pg_dist_node WHERE nodeport = %s", (spare_node.port,)).fetchone()
    assert left[0] == 0, (finished["summary"], finished["log"][-5:])
    assert Job.objects.filter(kind="drain_and_remove").count() == 1


def test_requests_through_the_api_keep_four_eyes(api, admin, second_admin, requester, cluster_row, citus, job_worker):
    from clusters.models import ClusterAccess

    ClusterAccess.objects.create(user=requester, cluster=cluster_row)  # a Requester sees clusters given by name
    _, asks = actions.do_create_token(requester, "app-team", "write", 30)
    _, own = actions.do_create_token(admin, "dba", "write", 30)
    _, other = actions.do_create_token(second_admin, "dba2", "write", 30)
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS api_req")
        conn.execute("CREATE TABLE api_req (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('api_req', 'id', shard_count => 2)")
    try:
        url = f"{api}/clusters/{cluster_row.pk}/requests"
        status, body, _ = _call(url, asks, "POST", {"kind": "analyze", "table": "public.api_req", "reason": ""})
        assert status == 422, body and "reason" in body["errors"]
        status, change, _ = _call(url, asks, "POST", {"kind": "analyze", "table": "public.api_req", "reason": "stats"})
        assert status == 201 and change["state"] == "pending" and "ANALYZE" in change["statement"].upper()
        # a requester cannot approve; an Admin sees it; the Admin who asked cannot approve their own
        assert _call(f"{api}/requests/{change['id']}/approve", asks, "POST", {})[0] == 403
        status, listed, _ = _call(f"{api}/requests?state=pending", own)
        assert status == 200 and change["id"] in [r["id"] for r in listed["requests"]]
        status, mine, _ = _call(url, own, "POST", {"kind": "analyze", "table": "public.api_req", "reason": "me"})
        status, body, _ = _call(f"{api}/requests/{mine['id']}/approve", own, "POST", {})
        assert status == 422 and "four eyes" in body["title"]
        status, decided, _ = _call(f"{api}/requests/{change['id']}/approve", other, "POST", {"comment": "ok"})
        assert status == 202 and decided["state"] == "approved" and decided["job"], decided
        assert _follow(api, other, decided["job"], job_worker)["state"] == "succeeded"
        status, rejected, _ = _call(f"{api}/requests/{mine['id']}/reject", other, "POST", {"comment": "no"})
        assert status == 200 and rejected["state"] == "rejected"
        assert AuditEntry.objects.filter(source="api", action="selfservice.approve", outcome="succeeded").exists()
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS api_req")


def test_audit_for_auditors_and_health_for_viewers(api, auditor, viewer, cluster_row):
    _, reads_audit = actions.do_create_token(auditor, "siem", "read", 30)
    _, looks = actions.do_create_token(viewer, "grafana", "read", 30)
    assert _call(f"{api}/audit", looks)[0] == 403
    status, page, _ = _call(f"{api}/audit?action=accounts.", reads_audit)
    assert status == 200 and any(e["action"].startswith("accounts.") for e in page["entries"])
    assert _call(f"{api}/audit?since=%C2%B2&job=x", reads_audit)[0] == 200  # odd filters are ignored, never a 500
    status, health, _ = _call(f"{api}/clusters/{cluster_row.pk}/health", looks)
    assert status == 200 and health["overall"] in ("green", "amber", "red", "unknown"), health
    keys = {c["key"] for c in health["checks"]}
    assert "workers" in keys and len(keys) >= 4, keys


def test_one_idempotency_key_raced_by_two_clients_starts_one_job(api, operator, cluster_row, citus):
    _, token = actions.do_create_token(operator, "ci", "write", 30)
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS api_race")
        conn.execute("CREATE TABLE api_race (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('api_race', 'id', shard_count => 2)")
    try:
        relid = _relid(api, token, cluster_row.pk, "api_race")
        url = f"{api}/clusters/{cluster_row.pk}/tables/{relid}/analyze"
        answers: list[tuple] = []

        def call() -> None:
            answers.append(_call(url, token, "POST", {}, Idempotency_Key="nightly-7"))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Job.objects.filter(kind="analyze").count() == 1, answers
        assert {a[0] for a in answers} <= {202, 409}, answers
        ids = {a[1]["id"] for a in answers if a[0] == 202}
        assert len(ids) == 1
        later = _call(url, token, "POST", {}, Idempotency_Key="nightly-7")
        assert later[0] == 202 and later[1]["id"] in ids and later[2].get("Idempotent-Replayed") == "true"
    finally:
        Job.objects.filter(kind="analyze").update(state="cancelled")
        with citus.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS api_race")


def test_the_rest_of_what_the_pages_change(api, admin, cluster_row, citus):
    from django.utils import timezone

    from monitoring.models import Alert

    _, token = actions.do_create_token(admin, "ops", "write", 30)
    base = f"{api}/clusters/{cluster_row.pk}"
    status, body, _ = _call(f"{base}/coordinator", token, "POST", {"host": "127.0.0.1", "port": 1, "preview": True})
    assert status == 200 and "citus_set_coordinator_host" in body["statement"]
    assert _call(f"{base}/coordinator", token, "POST", {"host": "no host!", "port": 1})[0] == 422
    status, body, _ = _call(f"{base}/cleanup", token, "POST", {})
    assert status == 200 and "record(s) left" in body["done"], body
    status, body, _ = _call(f"{base}/sessions/999999999/cancel", token, "POST")
    assert status == 200 and "no such session" in body["done"], body
    assert _call(f"{base}/sessions/0/terminate", token, "POST")[0] == 422
    status, body, _ = _call(f"{base}/statistics/reset", token, "POST", {"preview": True})
    assert status == 200 and "citus_stat_statements_reset" in body["statement"]
    with citus.connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS api_tenant CASCADE")
        conn.execute("CREATE SCHEMA api_tenant")
        conn.execute("CREATE TABLE api_tenant.t (id int PRIMARY KEY)")
    try:
        status, body, _ = _call(f"{base}/schemas/api_tenant/distribute", token, "POST", {})
        assert status == 200 and "now distributed" in body["done"], body
        status, body, _ = _call(f"{base}/schemas/api_tenant/distribute", token, "POST", {})
        assert status == 422 and "already distributed" in body["title"]
        status, body, _ = _call(f"{base}/schemas/api_tenant/undistribute", token, "POST", {})
        assert status == 200 and "no longer distributed" in body["done"], body
    finally:
        with citus.connect() as conn:
            conn.execute("DROP SCHEMA IF EXISTS api_tenant CASCADE")
    now = timezone.now()
    alert = Alert.objects.create(
        cluster=cluster_row,
        rule="skew",
        subject="",
        key=f"{cluster_row.pk}:skew:",
        severity="info",
        state=Alert.State.FIRING,
        message="skew",
        first_seen_at=now,
        fired_at=now,
        last_seen_at=now,
    )
    assert _call(f"{api}/alerts/{alert.pk}/acknowledge", token, "POST", {"comment": ""})[0] == 422
    status, body, _ = _call(f"{api}/alerts/{alert.pk}/acknowledge", token, "POST", {"comment": "rebalancing tonight"})
    assert status == 200 and "acknowledged" in body["done"], body
    assert AuditEntry.objects.filter(source="api", action="monitoring.acknowledge_alert").exists()


def test_clusters_and_alert_rules_are_registered_through_the_api(api, admin, operator, citus):
    from clusters.models import Cluster

    _, token = actions.do_create_token(admin, "terraform", "write", 30)
    _, ops = actions.do_create_token(operator, "ops", "write", 30)
    params = citus.params
    body = {
        "name": "from-api",
        "host": params["host"],
        "port": int(params["port"]),
        "dbname": params.get("dbname", "postgres"),
        "user": params.get("user", "postgres"),
        "sslmode": "disable",
        "password": "s3cret-not-shown",
    }
    assert _call(f"{api}/clusters", ops, "POST", body)[0] == 403  # Operators do not register clusters
    status, created, _ = _call(f"{api}/clusters", token, "POST", body, Idempotency_Key="tf-1")
    assert status == 201 and created["password_stored"] is True and "s3cret" not in json.dumps(created)
    again = _call(f"{api}/clusters", token, "POST", body, Idempotency_Key="tf-1")
    assert again[1].get("id") == created["id"], again and Cluster.objects.filter(name="from-api").count() == 1
    status, body_bad, _ = _call(f"{api}/clusters", token, "POST", {**body, "name": "bad name!", "port": 0})
    assert status == 422 and {"name", "port"} <= set(body_bad["errors"])
    cid = created["id"]
    status, changed, _ = _call(f"{api}/clusters/{cid}", token, "POST", {"description": "billing"})
    assert status == 200 and changed["description"] == "billing" and changed["password_stored"] is True
    status, tested, _ = _call(f"{api}/clusters/{cid}/test", token, "POST")
    assert status == 200 and tested["citus_version"] and len(tested["nodes"]) >= 3, tested
    status, rules, _ = _call(f"{api}/clusters/{cid}/alert-rules", token)
    assert status == 200 and {r["rule"] for r in rules} >= {"skew", "node_unreachable"}
    status, _, _ = _call(f"{api}/clusters/{cid}/alert-rules/skew", token, "POST", {"threshold": 35, "for_minutes": 30})
    assert status == 200
    skew = next(r for r in _call(f"{api}/clusters/{cid}/alert-rules", token)[1] if r["rule"] == "skew")
    assert skew["own"] and skew["threshold"] == 35 and skew["for_minutes"] == 30
    assert _call(f"{api}/clusters/{cid}/alert-rules/nope", token, "POST", {})[0] == 422
    status, _, _ = _call(f"{api}/clusters/{cid}", token, "DELETE")
    assert status == 200 and not Cluster.objects.filter(pk=cid).exists()
    actions_seen = set(AuditEntry.objects.filter(source="api").values_list("action", flat=True))
    assert {"clusters.register", "clusters.update", "clusters.delete"} <= actions_seen, actions_seen
