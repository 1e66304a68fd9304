"""Node management through the pages, against the real cluster."""

from __future__ import annotations

import html
import time

import pytest

from audit.models import AuditEntry
from citusadmin.citus.sandbox import free_port
from tests.helpers import wait_metadata_synced


def text(response) -> str:
    """The page as a person reads it (quotes unescaped)."""
    return html.unescape(response.content.decode())


def _nodes(citus):
    with citus.connect() as conn:
        return {r[1]: r for r in conn.execute("SELECT nodeid, nodeport, isactive, shouldhaveshards FROM pg_dist_node")}


def _add(client, cluster, port, confirm=True, **extra):
    data = {"host": "127.0.0.1", "port": str(port), "role": "primary", "nodecluster": "default", **extra}
    if confirm:
        data["confirm"] = "yes"
    return client.post(f"/c/{cluster.pk}/nodes/add/", data, follow=True)


def test_it_previews_then_adds_a_fourth_worker_and_reports_a_duplicate(client, admin, cluster_row, spare_node, citus):
    client.force_login(admin)
    preview = text(_add(client, cluster_row, spare_node.port, confirm=False))
    assert f"SELECT citus_add_node('127.0.0.1', {spare_node.port})" in preview
    assert spare_node.port not in _nodes(citus)  # nothing sent yet
    body = text(_add(client, cluster_row, spare_node.port))
    nodeid = _nodes(citus)[spare_node.port][0]
    assert f"to the cluster (Citus node id {nodeid})" in body and "rebalance" in body and "reference" in body
    assert f"127.0.0.1:{spare_node.port}" in body  # listed on the Nodes page
    body = text(_add(client, cluster_row, spare_node.port))
    assert f"already in the cluster (Citus node id {nodeid})" in body and "changed nothing" in body
    entries = AuditEntry.objects.filter(action="nodes.add_node").order_by("id")
    assert [e.outcome for e in entries] == ["succeeded", "succeeded"]
    assert "citus_add_node" in entries[0].sql


def test_it_disables_activates_and_removes_the_fourth_worker(client, admin, cluster_row, spare_node, citus):
    client.force_login(admin)
    _add(client, cluster_row, spare_node.port)
    nodeid = _nodes(citus)[spare_node.port][0]
    url = f"/c/{cluster_row.pk}/nodes/{nodeid}"
    assert "citus_disable_node" in text(client.get(f"{url}/disable/"))
    client.post(f"{url}/disable/", {"confirm": "yes"})
    assert _nodes(citus)[spare_node.port][2] is False
    assert "is inactive" in text(client.get(f"/c/{cluster_row.pk}/"))
    client.post(f"{url}/activate/", {"confirm": "yes"})
    assert _nodes(citus)[spare_node.port][2] is True
    client.post(f"{url}/should-have-shards/", {"value": "false", "confirm": "yes"})
    assert _nodes(citus)[spare_node.port][3] is False
    preview = text(client.post(f"{url}/remove/", {}))
    assert "citus_remove_node" in preview and "still holds" not in preview
    body = text(client.post(f"{url}/remove/", {"confirm": "yes"}, follow=True))
    assert "was removed from the cluster" in body
    assert spare_node.port not in _nodes(citus)
    actions = list(AuditEntry.objects.filter(action__startswith="nodes.").values_list("action", "outcome"))
    assert ("nodes.remove_node", "succeeded") in actions and ("nodes.disable_node", "succeeded") in actions


@pytest.fixture
def placed_table(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE placed_t (id int PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('placed_t', 'id', shard_count => 4)")
    yield
    with citus.connect() as conn:
        conn.execute("DROP TABLE placed_t")


def test_removing_a_node_with_data_is_refused_safely_and_force_shows_citus_refusal(
    client, admin, cluster_row, citus, placed_table
):
    client.force_login(admin)
    worker = citus.workers[0]
    nodeid = _nodes(citus)[worker.port][0]
    url = f"/c/{cluster_row.pk}/nodes/{nodeid}/remove/"
    preview = text(client.get(url))
    assert "still holds" in preview and "Drain and remove" in preview
    body = text(client.post(url, {"confirm": "yes"}, follow=True))
    assert "citus_remove_node does not drain" in body
    refused = AuditEntry.objects.get(action="nodes.remove_node")
    assert refused.outcome == "failed" and "citus_remove_node" not in refused.sql  # nothing sent
    body = text(client.post(url, {"confirm": "yes", "force": "yes"}, follow=True))
    assert "contains the only shard placement for shard" in body  # Citus's own words
    assert worker.port in _nodes(citus)
    forced = AuditEntry.objects.filter(action="nodes.remove_node").order_by("-id").first()
    assert forced.sqlstate == "XX000" and "citus_remove_node" in forced.sql


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("bad host!", "5432", "Enter a host name"),
        ("127.0.0.1", "70000", "less than or equal to 65535"),
        ("127.0.0.1", "0", "greater than or equal to 1"),
        ("-leading.dash", "5432", "Enter a host name"),
    ],
)
def test_bad_addresses_are_refused_before_any_sql(client, admin, cluster_row, coordinator_queries, host, port, message):
    client.force_login(admin)
    before = coordinator_queries.count
    response = client.post(
        f"/c/{cluster_row.pk}/nodes/add/",
        {"host": host, "port": port, "role": "primary", "nodecluster": "default", "confirm": "yes"},
    )
    body = text(response)
    assert message in body
    assert coordinator_queries.count == before
    assert not AuditEntry.objects.filter(action="nodes.add_node").exists()


def test_an_unreachable_node_gives_the_real_reason(client, admin, cluster_row):
    client.force_login(admin)
    port = free_port()
    body = text(_add(client, cluster_row, port))
    assert "Connection refused" in body and f"127.0.0.1:{port}" in body
    assert AuditEntry.objects.get(action="nodes.add_node").sqlstate == "08006"


def test_a_secondary_needs_a_group(client, admin, cluster_row):
    client.force_login(admin)
    body = text(_add(client, cluster_row, 5432, role="secondary"))
    assert "needs the group id of the primary" in body


def test_every_page_answers_quickly_with_a_stopped_worker(client, admin, cluster_row, controllable):
    client.force_login(admin)
    with controllable.worker_stopped(0):
        for path in (
            "/",
            f"/c/{cluster_row.pk}/",
            f"/c/{cluster_row.pk}/nodes/",
            f"/clusters/{cluster_row.pk}/",
            "/clusters/",
            f"/c/{cluster_row.pk}/nodes/2/remove/",
        ):
            started = time.monotonic()
            response = client.get(path, follow=True)
            assert response.status_code == 200, path
            assert time.monotonic() - started < 3, path


def test_every_page_answers_quickly_with_a_hung_worker(client, admin, cluster_row, hung_worker):
    client.force_login(admin)
    for path in (
        "/",
        f"/c/{cluster_row.pk}/",
        f"/c/{cluster_row.pk}/nodes/",
        f"/clusters/{cluster_row.pk}/",
        f"/c/{cluster_row.pk}/nodes/2/disable/",
    ):
        started = time.monotonic()
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        assert time.monotonic() - started < 3, path


def test_the_collector_marks_a_hung_worker_unreachable(placed_table, cluster_row, hung_worker):
    from monitoring.collector import collect

    started = time.monotonic()
    collection = collect(cluster_row)
    assert time.monotonic() - started < 30
    snap = collection.nodes.get(nodeport=hung_worker.port)
    assert snap.reachable is False and snap.bytes is None
    assert "did not finish" in collection.health_error


def test_it_moves_a_node_and_sets_the_coordinator_host(client, admin, cluster_row, spare_node, citus):
    client.force_login(admin)
    _add(client, cluster_row, spare_node.port)
    nodeid = _nodes(citus)[spare_node.port][0]
    url = f"/c/{cluster_row.pk}/nodes/{nodeid}/update/"
    preview = text(client.post(url, {"host": "localhost", "port": str(spare_node.port), "confirm": "no"}))
    assert f"SELECT citus_update_node({nodeid}, 'localhost', {spare_node.port})" in preview
    moved = text(client.post(url, {"host": "localhost", "port": str(spare_node.port), "confirm": "yes"}, follow=True))
    assert f"The node 127.0.0.1:{spare_node.port} (id {nodeid}) is now at localhost:{spare_node.port}." in moved
    with citus.connect() as conn:
        assert (
            conn.execute("SELECT nodename FROM pg_dist_node WHERE nodeid = %s", (nodeid,)).fetchone()[0] == "localhost"
        )
    client.post(url, {"host": "127.0.0.1", "port": str(spare_node.port), "confirm": "yes"})
    # Citus refuses topology changes until metadata is re-synced to the moved node; the page says so.
    refused = text(
        client.post(
            f"/c/{cluster_row.pk}/nodes/coordinator/",
            {"coord-host": "127.0.0.1", "coord-port": citus.params["port"], "confirm": "yes"},
            follow=True,
        )
    )
    assert "registered as" in refused or "out of sync" in refused
    wait_metadata_synced(citus)
    coordinator_port = int(citus.params["port"])
    body = text(
        client.post(
            f"/c/{cluster_row.pk}/nodes/coordinator/",
            {"coord-host": "127.0.0.1", "coord-port": str(coordinator_port), "confirm": "yes"},
            follow=True,
        )
    )
    assert f"registered as 127.0.0.1:{coordinator_port}" in body
    assert AuditEntry.objects.filter(action="nodes.update_node", outcome="succeeded").count() == 2
    assert AuditEntry.objects.filter(action="nodes.set_coordinator_host").last().outcome == "succeeded"
