"""The real Citus cluster (found or started by tests.cluster), a hung node, a spare node, something to rebalance."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from citusadmin.citus.connection import close_pools, count_queries
from tests.cluster import CitusCluster, find_cluster
from tests.helpers import HungServer, wait_metadata_synced

# Why the real-cluster tests were skipped, for the summary line (tests/conftest.py).
skip_reason = ""


@pytest.fixture(scope="session")
def citus() -> Iterator[CitusCluster]:
    global skip_reason
    cluster, reason = find_cluster()
    if cluster is None:
        skip_reason = reason
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        close_pools()
        for step in cluster.cleanup:  # in the order they were registered: stop servers, then delete files
            step()


@pytest.fixture
def coordinator_queries() -> Iterator[Any]:
    with count_queries() as counter:
        yield counter


@pytest.fixture
def controllable(citus: CitusCluster) -> CitusCluster:
    if citus.sandbox is None:
        pytest.skip("this test stops and starts nodes: it needs the local sandbox cluster")
    return citus


@pytest.fixture
def cluster_row(db: None, citus: CitusCluster) -> Any:
    """The test cluster registered in the console (through the model, as the sandbox command does)."""
    from clusters.models import Cluster

    params = citus.params
    cluster = Cluster(
        name="test",
        host=params["host"],
        port=int(params["port"]),
        dbname=params.get("dbname", "postgres"),
        user=params.get("user", ""),
        sslmode=params.get("sslmode", "prefer"),
    )
    if params.get("password"):
        cluster.set_password(params["password"])
    cluster.save()
    return cluster


@pytest.fixture
def hung_worker(controllable: CitusCluster) -> Iterator[Any]:
    """Worker 2 replaced by a socket that accepts and never answers, then restored."""
    sandbox = controllable.sandbox
    assert sandbox is not None
    node = sandbox.workers[1]
    sandbox.stop_node(node, mode="immediate")
    server = HungServer(node.port)
    try:
        yield node
    finally:
        server.close()
        sandbox.start_node(node)
        sandbox.wait_ready(node)


@pytest.fixture
def spare_node(controllable: CitusCluster) -> Iterator[Any]:
    """A fourth PostgreSQL+Citus instance, not yet in the cluster; removed from it afterwards."""
    import uuid

    sandbox = controllable.sandbox
    assert sandbox is not None
    node = sandbox.add_spare_node(f"spare-{uuid.uuid4().hex[:6]}")
    try:
        yield node
    finally:
        wait_metadata_synced(controllable)
        with controllable.connect() as conn:
            row = conn.execute(
                "SELECT nodeid FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = %s", (node.port,)
            ).fetchone()
            if row:
                conn.execute("SELECT citus_remove_node('127.0.0.1', %s)", (node.port,))
        close_pools()
        sandbox.drop_spare_node(node)


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
