"""The overview page: real-time topology in a fixed number of coordinator statements."""

from __future__ import annotations

from citusadmin.citus.sandbox import free_port
from clusters.models import Cluster


def test_it_shows_versions_and_every_node(client, viewer, cluster_row, citus):
    client.force_login(viewer)
    body = client.get(f"/c/{cluster_row.pk}/").content.decode()
    assert "Citus" in body and "PostgreSQL" in body
    for worker in citus.workers:
        assert f"127.0.0.1:{worker.port}" in body
    assert "coordinator" in body


def test_it_costs_a_fixed_number_of_coordinator_statements(client, viewer, cluster_row, citus, coordinator_queries):
    client.force_login(viewer)
    client.get(f"/c/{cluster_row.pk}/")  # warms the capability cache
    before = coordinator_queries.count
    client.get(f"/c/{cluster_row.pk}/")
    assert coordinator_queries.count - before == 1
    # ... whatever the number of tables and shards
    with citus.connect() as conn:
        conn.execute("CREATE TABLE overview_many (id int)")
        conn.execute("SELECT create_distributed_table('overview_many', 'id', shard_count => 64)")
    try:
        before = coordinator_queries.count
        body = client.get(f"/c/{cluster_row.pk}/").content.decode()
        assert coordinator_queries.count - before == 1
        assert ">32<" in body  # 64 shards over 2 workers
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE overview_many")


def test_it_answers_with_the_reason_when_the_coordinator_is_down(client, viewer, db):
    cluster = Cluster.objects.create(name="gone", host="127.0.0.1", port=free_port(), sslmode="disable")
    client.force_login(viewer)
    response = client.get(f"/c/{cluster.pk}/")
    assert response.status_code == 200
    assert "Connection refused" in response.content.decode()


def test_it_answers_when_a_worker_is_stopped(client, viewer, cluster_row, controllable):
    client.force_login(viewer)
    with controllable.worker_stopped(1):
        response = client.get(f"/c/{cluster_row.pk}/")
    assert response.status_code == 200
    assert f"127.0.0.1:{controllable.workers[1].port}" in response.content.decode()
