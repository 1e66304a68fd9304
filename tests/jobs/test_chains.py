"""Operations chained on one cluster, as people run them, without resetting anything in between.

Drain-and-remove used to send citus_remove_node while Citus's deferred drop of the last moved shard
was still in pg_dist_cleanup; the record then pointed at a group that no longer existed, and the
next rebalance after re-adding a node retried its move for eleven minutes.
"""

from __future__ import annotations

import time

from audit.models import AuditEntry
from jobs.actions import do_start_job
from jobs.models import Job
from nodes.actions import do_add_node
from tests.helpers import placements_on, wait_for


def _run(job: Job, job_worker, timeout: float = 240) -> Job:
    wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, timeout, message=job_worker.logs())
    job.refresh_from_db()
    return job


def _nodeid(citus, port: int) -> int | None:
    with citus.connect() as conn:
        row = conn.execute("SELECT nodeid FROM pg_dist_node WHERE nodeport = %s", (port,)).fetchone()
    return row[0] if row else None


def _cleanup_records(citus) -> list[tuple]:
    with citus.connect() as conn:
        return conn.execute("SELECT record_id, object_name, node_group_id FROM pg_dist_cleanup").fetchall()


def test_drain_and_remove_re_add_and_rebalance_chain_leaves_nothing_behind(
    admin, cluster_row, unbalanced, job_worker, citus
):
    spare = unbalanced["spare"]
    mode = {"transfer_mode": "block_writes"}
    jobs: list[Job] = []

    def rebalance() -> None:
        job = _run(do_start_job(admin, cluster_row, "rebalance", dict(mode)), job_worker)
        jobs.append(job)
        assert job.state == "succeeded", (job.error, job_worker.logs())
        assert placements_on(citus, spare.port) > 0

    def drain_and_remove() -> None:
        nodeid = _nodeid(citus, spare.port)
        job = do_start_job(admin, cluster_row, "drain_and_remove", {"nodeid": nodeid, **mode})
        job = _run(job, job_worker)
        jobs.append(job)
        assert job.state == "succeeded", (job.error, job_worker.logs())
        assert _nodeid(citus, spare.port) is None
        # nothing of the drained group is left for Citus to drop: it was dropped before the removal
        assert not [r for r in _cleanup_records(citus) if r[2] not in _groups(citus)]

    def re_add() -> None:
        do_add_node(admin, cluster_row, "127.0.0.1", spare.port)

    rebalance()
    drain_and_remove()
    re_add()
    rebalance()
    drain_and_remove()
    re_add()
    rebalance()
    for job in jobs:
        assert job.retries == 0 and not job.retry_message, f"job {job.pk} ({job.kind}) retried: {job.retry_message}"
    # Citus's own deferred drop of the last rebalance's old copies runs every defer_shard_delete_interval
    deadline = time.monotonic() + 90
    while _cleanup_records(citus) and time.monotonic() < deadline:
        time.sleep(2)
    assert _cleanup_records(citus) == []
    # every statement the jobs sent that changed the cluster is in the audit trail, as sent
    sent = "\n".join(AuditEntry.objects.filter(action__endswith=".statement").values_list("sql", flat=True))
    assert "citus_rebalance_start(" in sent and "citus_remove_node('127.0.0.1'," in sent
    assert "citus_set_node_property('127.0.0.1'," in sent


def _groups(citus) -> set[int]:
    with citus.connect() as conn:
        return {r[0] for r in conn.execute("SELECT groupid FROM pg_dist_node").fetchall()}


def test_a_removed_nodes_leftovers_are_shown_and_forgotten_on_the_cleanup_page(client, admin, cluster_row, citus):
    """A record whose group no longer exists (what the old drain-and-remove left): Health is red and
    points at the cleanup page, which previews exactly the DELETE it sends, and audits it."""
    with citus.connect() as conn:
        conn.execute(
            "INSERT INTO pg_dist_cleanup (record_id, operation_id, object_type, object_name, node_group_id, "
            "policy_type) VALUES (987654321, 987654321, 1, 'public.acc_events_102028', 99999, 2)"
        )
    try:
        client.force_login(admin)
        health = client.get(f"/c/{cluster_row.pk}/monitoring/health/").content.decode()
        assert 'id="check-cleanup" data-status="red"' in health and "no longer exists" in health
        assert f"/c/{cluster_row.pk}/cleanup/" in health
        page = client.get(f"/c/{cluster_row.pk}/cleanup/").content.decode()
        assert "public.acc_events_102028" in page and "group 99999: removed" in page
        preview = client.post(f"/c/{cluster_row.pk}/cleanup/", {"op": "forget"}).content.decode()
        assert "DELETE FROM pg_catalog.pg_dist_cleanup" in preview and "987654321" in preview
        assert _cleanup_record(citus, 987654321)  # a preview changes nothing
        client.post(
            f"/c/{cluster_row.pk}/cleanup/", {"op": "forget", "confirm": "yes", "record_ids": "987654321"}, follow=True
        )
        assert not _cleanup_record(citus, 987654321)
        entry = AuditEntry.objects.get(action="nodes.forget_cleanup_records")
        assert (
            entry.outcome == "succeeded"
            and "987654321" in entry.sql
            and entry.parameters["result"] == "1 record(s) deleted"
        )
    finally:
        with citus.connect() as conn:
            conn.execute("DELETE FROM pg_dist_cleanup WHERE record_id = 987654321")


def _cleanup_record(citus, record_id: int) -> bool:
    with citus.connect() as conn:
        return bool(conn.execute("SELECT 1 FROM pg_dist_cleanup WHERE record_id = %s", (record_id,)).fetchone())


def test_a_viewer_cannot_change_cleanup_records(client, viewer, cluster_row):
    client.force_login(viewer)
    assert client.get(f"/c/{cluster_row.pk}/cleanup/").status_code == 200
    assert client.post(f"/c/{cluster_row.pk}/cleanup/", {"op": "run"}).status_code == 403
    assert AuditEntry.objects.filter(outcome="denied", action="nodes.run_cleanup").exists()
