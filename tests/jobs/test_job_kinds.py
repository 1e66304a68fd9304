"""The other job kinds, each run by a real worker against the real cluster."""

from __future__ import annotations

import pytest

from jobs.actions import do_start_job
from jobs.models import Job
from tests.helpers import citus_jobs_since, job_state, placements_on, wait_for

pytestmark = pytest.mark.broker


def _node(citus, port):
    with citus.connect() as conn:
        return conn.execute("SELECT nodeid, shouldhaveshards FROM pg_dist_node WHERE nodeport = %s", (port,)).fetchone()


def _finish(job, job_worker, timeout=180):
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, timeout, message=job_worker.logs())
    job.refresh_from_db()
    return job


def test_drain_moves_only_that_nodes_shards(client, admin, cluster_row, unbalanced, job_worker, citus):
    worker = citus.workers[0]
    before_other = placements_on(citus, citus.workers[1].port)
    nodeid = _node(citus, worker.port)[0]
    client.force_login(admin)
    page = client.get(f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/").content.decode()
    assert "citus_set_node_property" in page and "drain_only" in page
    response = client.post(
        f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/", {"confirm": "yes", "remove": "0", "transfer_mode": "block_writes"}
    )
    job = Job.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    job = _finish(job, job_worker)
    try:
        assert job.state == "succeeded", job.error
        assert placements_on(citus, worker.port) == 0
        assert placements_on(citus, citus.workers[1].port) >= before_other  # it received, never lost, shards
        assert _node(citus, worker.port)[1] is False
    finally:
        with citus.connect() as conn:
            conn.execute("SELECT citus_set_node_property('127.0.0.1', %s, 'shouldhaveshards', true)", (worker.port,))
            conn.execute("SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')")


def test_drain_is_refused_when_another_node_would_be_drained_too(client, admin, cluster_row, unbalanced, citus):
    other = citus.workers[1]
    with citus.connect() as conn:
        conn.execute("SELECT citus_set_node_property('127.0.0.1', %s, 'shouldhaveshards', false)", (other.port,))
    try:
        nodeid = _node(citus, citus.workers[0].port)[0]
        client.force_login(admin)
        page = client.get(f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/").content.decode()
        assert f"127.0.0.1:{other.port}" in page and "Refused" in page
        client.post(f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/", {"confirm": "yes", "remove": "0"})
        assert not Job.objects.exists()
    finally:
        with citus.connect() as conn:
            conn.execute("SELECT citus_set_node_property('127.0.0.1', %s, 'shouldhaveshards', true)", (other.port,))


def test_drain_and_remove_from_the_remove_page(client, admin, cluster_row, unbalanced, job_worker, citus):
    spare = unbalanced["spare"]
    with citus.connect() as conn:
        conn.execute("SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')")
    assert placements_on(citus, spare.port) > 0
    nodeid = _node(citus, spare.port)[0]
    client.force_login(admin)
    remove_page = client.get(f"/c/{cluster_row.pk}/nodes/{nodeid}/remove/").content.decode()
    assert f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/?remove=1" in remove_page
    response = client.post(
        f"/c/{cluster_row.pk}/nodes/{nodeid}/drain/?remove=1",
        {"confirm": "yes", "remove": "1", "transfer_mode": "block_writes"},
    )
    job = _finish(Job.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1])), job_worker)
    assert job.kind == "drain_and_remove" and job.state == "succeeded", job.error
    assert _node(citus, spare.port) is None
    assert "removed 127.0.0.1" in job.summary


def test_one_table_rebalance_honours_max_moves_and_excluded_shards(
    operator, cluster_row, unbalanced, job_worker, citus
):
    with citus.connect() as conn:
        shards = [
            r[0]
            for r in conn.execute(
                "SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'jobs_t'::regclass ORDER BY shardid"
            ).fetchall()
        ]
    job = do_start_job(
        operator,
        cluster_row,
        "rebalance_table",
        {
            "relation": "jobs_t",
            "max_shard_moves": 2,
            "excluded_shards": shards[:2],
            "transfer_mode": "block_writes",
            "strategy": "by_shard_count",
        },
        target="jobs_t",
    )
    job = _finish(job, job_worker)
    assert job.state == "succeeded", job.error
    with citus.connect() as conn:
        moved = conn.execute(
            "SELECT count(DISTINCT p.shardid) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) "
            "JOIN pg_dist_shard s USING (shardid) WHERE n.nodeport = %s AND s.logicalrelid = 'jobs_t'::regclass",
            (unbalanced["spare"].port,),
        ).fetchone()[0]
    assert moved == 2
    assert citus_jobs_since(citus, unbalanced["floor"]) == []  # blocking path: no Citus background job
    assert "rebalance_table_shards" in job.log.first().message
    # a finished job's figures are final and match its log: 2 of 2, nothing in flight
    assert job.summary == "2 shard move(s) done."
    assert (job.progress_done, job.progress_total, job.current, job.phase) == (2, 2, "", "")


def test_cancel_a_blocking_rebalance(client, operator, cluster_row, unbalanced, job_worker, citus):
    job = do_start_job(
        operator,
        cluster_row,
        "rebalance_table",
        {"relation": "jobs_t", "transfer_mode": "force_logical", "strategy": "by_shard_count"},
        target="jobs_t",
    )
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_total, 60, message=job_worker.logs())
    client.force_login(operator)
    client.post(f"/jobs/{job.pk}/cancel/")
    job = _finish(job, job_worker, 60)
    assert job.state == "cancelled", (job.state, job.error)
    with citus.connect() as conn:
        assert not conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (f"citusadmin/job-{job.pk}",)
        ).fetchone()


def test_change_shard_count_vacuum_analyze_and_health_check(admin, cluster_row, unbalanced, job_worker, citus):
    jobs = [
        do_start_job(
            admin,
            cluster_row,
            "change_shard_count",
            {"relation": "jobs_t", "shard_count": 6, "cascade_to_colocated": True},
            target="jobs_t",
        ),
    ]
    _finish(jobs[0], job_worker)
    jobs += [
        do_start_job(admin, cluster_row, "vacuum", {"command": "VACUUM", "schema": "public", "table": "jobs_t"}),
        do_start_job(admin, cluster_row, "analyze", {"command": "ANALYZE", "schema": "public", "table": "jobs_u"}),
        do_start_job(admin, cluster_row, "health_check", {}),
    ]
    for job in jobs:
        _finish(job, job_worker)
        assert job.state == "succeeded", (job.kind, job.error)
    with citus.connect() as conn:
        assert (
            conn.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'jobs_t'::regclass").fetchone()[0]
            == 6
        )
        assert conn.execute("SELECT count(*) FROM jobs_t").fetchone()[0] == 60000
    assert "Every node answered" in jobs[-1].summary
