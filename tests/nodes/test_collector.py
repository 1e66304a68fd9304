"""The background collector against the real cluster: sizes, reachability, health, connections."""

from __future__ import annotations

import time

import pytest

from monitoring.collector import collect, latest
from monitoring.models import Collection


@pytest.fixture
def sized_table(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE collector_t (id bigint PRIMARY KEY, pad text)")
        conn.execute("SELECT create_distributed_table('collector_t', 'id', shard_count => 8)")
        conn.execute("INSERT INTO collector_t SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
    yield "collector_t"
    with citus.connect() as conn:
        conn.execute("DROP TABLE collector_t")


def test_it_measures_every_node(cluster_row, sized_table, citus):
    collection = collect(cluster_row)
    assert collection.ok, collection.error
    nodes = {n.nodeport: n for n in collection.nodes.all()}
    for worker in citus.workers:
        snap = nodes[worker.port]
        assert snap.reachable is True
        assert snap.placements >= 4 and snap.bytes and snap.bytes > 100_000
        assert snap.connections is not None
    assert len(collection.health) == len(nodes) ** 2 and all(edge[2] for edge in collection.health)
    assert collection.max_shared_pool_size is not None
    assert collection.tables.filter(bytes__gt=1_000_000).exists()


def test_a_stopped_worker_is_unreachable_and_its_size_unknown(cluster_row, sized_table, controllable):
    with controllable.worker_stopped(0) as node:
        collection = collect(cluster_row)
    snap = collection.nodes.get(nodeport=node.port)
    assert snap.reachable is False and snap.bytes is None
    other = collection.nodes.get(nodeport=controllable.workers[1].port)
    assert other.reachable is True and other.bytes
    assert any(edge[2] is False for edge in collection.health)


def test_the_overview_shows_measurements_with_their_time_and_flags_the_unreachable(
    client, viewer, cluster_row, sized_table, controllable
):
    with controllable.worker_stopped(0) as node:
        collect(cluster_row)
        client.force_login(viewer)
        body = client.get(f"/c/{cluster_row.pk}/").content.decode()
    assert f"Node 127.0.0.1:{node.port} is unreachable" in body
    assert "measured" in body and "ago" in body
    assert f"unknown on 127.0.0.1:{node.port}" in body  # the total never silently leaves it out


def test_a_missing_or_old_measurement_is_flagged(client, viewer, cluster_row, settings):
    client.force_login(viewer)
    assert "No measurements yet" in client.get(f"/c/{cluster_row.pk}/").content.decode()
    collection = collect(cluster_row)
    settings.COLLECTOR_INTERVAL = 5
    Collection.objects.filter(pk=collection.pk).update(measured_at=collection.measured_at.replace(year=2020))
    body = client.get(f"/c/{cluster_row.pk}/").content.decode()
    assert ">stale<" in body
    assert latest(cluster_row).pk == collection.pk


def test_refresh_now_is_collected_by_a_real_worker(client, operator, cluster_row, celery_worker_process):
    from tests.helpers import use_broker

    with use_broker(celery_worker_process.broker_url, celery_worker_process.queue):
        client.force_login(operator)
        response = client.post(f"/c/{cluster_row.pk}/refresh/", follow=True)
        assert "Measurement queued" in response.content.decode()
    deadline = time.monotonic() + 30
    while not Collection.objects.filter(cluster=cluster_row, finished=True, trigger="manual").exists():
        assert time.monotonic() < deadline, celery_worker_process.log.read_text()[-2000:]
        time.sleep(0.2)
    assert Collection.objects.get(cluster=cluster_row, trigger="manual").ok


def test_refresh_now_with_the_broker_down_says_so(client, operator, cluster_row, broker_down):
    from audit.models import AuditEntry

    client.force_login(operator)
    response = client.post(f"/c/{cluster_row.pk}/refresh/", follow=True)
    assert response.status_code == 200
    assert "job queue (Celery broker) is not reachable" in response.content.decode()
    entry = AuditEntry.objects.get(action="monitoring.collect_now")
    assert entry.outcome == "failed" and "not reachable" in entry.error


def test_the_overview_draws_the_connectivity_matrix(client, viewer, cluster_row, citus):
    collect(cluster_row)
    client.force_login(viewer)
    body = client.get(f"/c/{cluster_row.pk}/").content.decode()
    assert 'id="health-matrix"' in body
    assert body.count('title="connects"') == 9  # coordinator + 2 workers, every pair


def test_a_distributed_tables_rows_come_from_its_shards_not_the_coordinators_shell(
    client, viewer, cluster_row, sized_table, citus
):
    """The shell table on the coordinator has no statistics: right after distributing it said 0 rows,
    and later whatever the coordinator had before. The shards' estimates are the truth."""
    with citus.connect() as conn:
        relid = conn.execute("SELECT 'collector_t'::regclass::oid::bigint").fetchone()[0]
    client.force_login(viewer)
    collect(cluster_row)
    page = client.get(f"/c/{cluster_row.pk}/tables/{relid}/").content.decode()
    rows_card = page.split('id="rows-estimate"')[1].split("</div></div>")[0]
    assert ">0<" not in rows_card  # never a made-up zero
    with citus.connect() as conn:
        conn.execute("ANALYZE collector_t")
        conn.execute("INSERT INTO collector_t SELECT g, 'y' FROM generate_series(20001, 30000) g")
        conn.execute("ANALYZE collector_t")
    collection = collect(cluster_row)
    snapshot = collection.tables.get(relid=relid)
    assert snapshot.estimated_shards == 8 and 29_000 <= snapshot.rows <= 31_000
    page = client.get(f"/c/{cluster_row.pk}/tables/{relid}/").content.decode()
    assert "30,000" in page.split('id="rows-estimate"')[1].split("</div></div>")[0]


def test_overview_nodes_and_health_tell_one_story_about_a_stopped_worker(client, viewer, cluster_row, controllable):
    """The Overview said "Reachable: yes" for up to a minute while Health was red, and its banner stayed
    a minute after the worker came back. Now all three read one probe, taken every few seconds."""
    from django.conf import settings

    from monitoring import reach

    assert settings.CELERY_BEAT_SCHEDULE["probe-reachability"]["options"]["expires"] <= 5
    stopped = f"127.0.0.1:{controllable.workers[1].port}"
    client.force_login(viewer)
    collect(cluster_row)
    reach.probe(cluster_row.pk)
    assert "is unreachable" not in client.get(f"/c/{cluster_row.pk}/").content.decode()
    with controllable.worker_stopped(1):
        probe = reach.probe(cluster_row.pk)
        assert False in probe.nodes.values()
        overview = client.get(f"/c/{cluster_row.pk}/").content.decode()
        nodes = client.get(f"/c/{cluster_row.pk}/nodes/").content.decode()
        health = client.get(f"/c/{cluster_row.pk}/monitoring/health/").content.decode()
        stamp = f"{probe.measured_at:%H:%M:%S}"
        assert f"Node {stopped} is unreachable" in overview and f"probed {stamp}" in overview.replace(
            "Reachability ", ""
        )
        assert f"Node {stopped} is unreachable" in nodes
        assert 'id="check-reachable" data-status="red"' in health and stamp in health
    reach.probe(cluster_row.pk)
    assert "is unreachable" not in client.get(f"/c/{cluster_row.pk}/").content.decode()
    health = client.get(f"/c/{cluster_row.pk}/monitoring/health/").content.decode()
    assert 'id="check-reachable" data-status="green"' in health


def test_connection_limits_are_read_as_plain_integers_only():
    """The settings are read from the cluster; "-²" passed lstrip("-").isdigit() and then crashed int()."""
    from citusadmin.params import parse_int

    assert parse_int("-²".lstrip("-")) is None and parse_int("200") == 200 and parse_int("٣") is None
