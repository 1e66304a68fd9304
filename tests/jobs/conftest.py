"""A cluster with something to rebalance: a table with data and a fourth, empty worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jobs.models import Job


@pytest.fixture
def unbalanced(controllable, spare_node, cluster_row) -> Iterator[Any]:
    with controllable.connect() as conn:
        conn.execute("CREATE TABLE jobs_t (id bigint PRIMARY KEY, pad text)")
        conn.execute("SELECT create_distributed_table('jobs_t', 'id', shard_count => 12)")
        conn.execute("CREATE TABLE jobs_u (id bigint PRIMARY KEY, v int)")
        conn.execute("SELECT create_distributed_table('jobs_u', 'id', colocate_with => 'jobs_t')")
        conn.execute("INSERT INTO jobs_t SELECT g, repeat('x', 200) FROM generate_series(1, 60000) g")
        conn.execute("INSERT INTO jobs_u SELECT g, g FROM generate_series(1, 20000) g")
        conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (spare_node.port,))
        floor = conn.execute("SELECT COALESCE(max(job_id), 0) FROM pg_dist_background_job").fetchone()[0]
    yield {"spare": spare_node, "floor": floor}
    with controllable.connect() as conn:
        for (job_id,) in conn.execute(
            "SELECT job_id FROM pg_dist_background_job WHERE state IN ('scheduled','running','cancelling','failing')"
        ).fetchall():
            conn.execute("SELECT citus_job_cancel(%s)", (job_id,))
        for _ in range(100):
            if not conn.execute(
                "SELECT 1 FROM pg_dist_background_job WHERE state IN ('scheduled','running','cancelling','failing')"
            ).fetchone():
                break
            time.sleep(0.2)
        conn.execute("DROP TABLE IF EXISTS jobs_u, jobs_t")
        conn.execute("CALL citus_cleanup_orphaned_resources()")


def wait_for(predicate, timeout: float = 60, interval: float = 0.25, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


def job_state(job_id: int) -> str:
    return Job.objects.get(pk=job_id).state


def citus_jobs_since(citus, floor: int) -> list[tuple]:
    with citus.connect() as conn:
        return conn.execute(
            "SELECT job_id, state::text FROM pg_dist_background_job WHERE job_id > %s ORDER BY job_id", (floor,)
        ).fetchall()


def placements_on(citus, port: int) -> int:
    with citus.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE n.nodeport = %s",
            (port,),
        ).fetchone()[0]
