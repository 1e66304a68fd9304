"""The overview and nodes pages cost the same whatever the number of nodes, tables and shards."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.collector import collect


def _measure(client, url, coordinator_queries):
    client.get(url)  # capabilities cached, session warm
    # the banner's worker status is cached 5 s per process: hold it for the measured request, so an
    # expiry between two measurements does not read as a page costing one more query
    from django.core.cache import cache

    from jobs import heartbeat

    cache.set(heartbeat._CACHE_KEY, heartbeat.status(), 60)
    before = coordinator_queries.count
    with CaptureQueriesContext(connection) as app_queries:
        response = client.get(url)
    assert response.status_code == 200
    return coordinator_queries.count - before, len(app_queries)


@pytest.fixture
def many_tables(citus):
    created = []

    def make(total):
        with citus.connect() as conn:
            while len(created) < total:
                name = f"budget_{len(created)}"
                conn.execute(f"CREATE TABLE {name} (id int)")
                conn.execute("SELECT create_distributed_table(%s, 'id', shard_count => 2)", (name,))
                created.append(name)

    yield make
    with citus.connect() as conn:
        for name in created:
            conn.execute(f"DROP TABLE {name}")


@pytest.fixture
def two_more_workers(controllable):
    sandbox = controllable.sandbox
    spares = [sandbox.add_spare_node(f"budget-spare-{i}") for i in range(2)]

    def add():
        with controllable.connect() as conn:
            for node in spares:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (node.port,))

    yield add
    with controllable.connect() as conn:
        for node in spares:
            if conn.execute("SELECT 1 FROM pg_dist_node WHERE nodeport = %s", (node.port,)).fetchone():
                conn.execute("SELECT citus_remove_node('127.0.0.1', %s)", (node.port,))
    for node in spares:
        sandbox.drop_spare_node(node)


def test_the_cost_is_flat(client, viewer, cluster_row, coordinator_queries, many_tables, two_more_workers):
    client.force_login(viewer)
    pages = [f"/c/{cluster_row.pk}/", f"/c/{cluster_row.pk}/nodes/"]
    results = {}
    many_tables(10)
    collect(cluster_row)
    results["2 workers, 10 tables"] = [_measure(client, p, coordinator_queries) for p in pages]
    many_tables(200)
    collect(cluster_row)
    results["2 workers, 200 tables"] = [_measure(client, p, coordinator_queries) for p in pages]
    two_more_workers()
    collect(cluster_row)
    results["4 workers, 200 tables"] = [_measure(client, p, coordinator_queries) for p in pages]
    assert len(set(map(tuple, results.values()))) == 1, results
    coordinator, app = results["4 workers, 200 tables"][0]
    assert coordinator == 1 and app <= 9, results
