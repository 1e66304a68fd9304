"""/metrics: parsed by the Prometheus client's own parser, checked against the real cluster, built
without a statement to it, protected; the shipped alert rules and dashboard name only real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from citusadmin.citus.connection import count_queries
from monitoring.collector import collect

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-metrics-token"


def _scrape(client, **headers) -> dict[str, list]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.content[:300]
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOW = []


def _by_node(samples, cluster: str) -> dict[str, float]:
    return {s.labels["node"]: s.value for s in samples if s.labels.get("cluster") == cluster}


def test_metrics_match_the_cluster_and_send_it_nothing(client, cluster_row, citus, metrics_on):
    collect(cluster_row)
    with count_queries() as counter:
        metrics = _scrape(client)
    assert counter.statements == []  # a scrape never reaches a cluster
    with citus.connect() as conn:
        nodes = {f"{h}:{p}" for h, p in conn.execute("SELECT nodename, nodeport FROM pg_dist_node").fetchall()}
        tables = conn.execute("SELECT count(*) FROM pg_dist_partition").fetchone()[0]
        shards = conn.execute("SELECT count(*) FROM pg_dist_shard").fetchone()[0]
        placements = dict(
            conn.execute(
                "SELECT format('%s:%s', n.nodename, n.nodeport), count(p.placementid) FROM pg_dist_node n "
                "LEFT JOIN pg_dist_placement p USING (groupid) GROUP BY 1"
            ).fetchall()
        )
    name = cluster_row.name
    assert [s.value for s in metrics["citusadmin_cluster_up"] if s.labels["cluster"] == name] == [1]
    assert set(_by_node(metrics["citusadmin_node_reachable"], name)) == nodes
    assert set(_by_node(metrics["citusadmin_node_reachable"], name).values()) == {1}
    assert _by_node(metrics["citusadmin_node_placements"], name) == {k: float(v) for k, v in placements.items()}
    assert [s.value for s in metrics["citusadmin_cluster_tables"] if s.labels["cluster"] == name] == [tables]
    assert [s.value for s in metrics["citusadmin_cluster_shards"] if s.labels["cluster"] == name] == [shards]
    checks = {
        s.labels["check"]: s.value for s in metrics["citusadmin_health_check_state"] if s.labels["cluster"] == name
    }
    assert checks["nodes_reachable"] == 0 and checks["collector"] == 0
    labels = {k for samples in metrics.values() for sample in samples for k in sample.labels}
    assert not any("shard" in k for k in labels)  # no per-shard label


def test_a_stopped_worker_shows_as_unreachable_after_the_next_collection(client, cluster_row, controllable, metrics_on):
    with controllable.worker_stopped(0) as node:
        collect(cluster_row)
        metrics = _scrape(client)
    reachable = _by_node(metrics["citusadmin_node_reachable"], cluster_row.name)
    assert reachable[f"127.0.0.1:{node.port}"] == 0
    checks = {s.labels["check"]: s.value for s in metrics["citusadmin_health_check_state"]}
    assert checks["nodes_reachable"] == 2


def test_metrics_are_off_without_a_token_or_an_address_and_refuse_a_wrong_token(client, settings, db):
    settings.METRICS_TOKEN, settings.METRICS_ALLOW = "", []
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    settings.METRICS_TOKEN, settings.METRICS_ALLOW = "", ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    settings.METRICS_ALLOW = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 401


def _exposed_names(client) -> set[str]:
    metrics = _scrape(client)
    names = set(metrics)
    for samples in metrics.values():
        names.update(s.name for s in samples)
    return names


def test_the_shipped_alert_rules_and_dashboard_name_only_real_metrics(client, cluster_row, metrics_on):
    collect(cluster_row)
    from jobs import heartbeat

    heartbeat.beat("worker@metrics", "worker", "celery")
    exposed = _exposed_names(client)
    rules = yaml.safe_load((ROOT / "deploy/prometheus/citusadmin-rules.yml").read_text())
    named: set[str] = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
            named.update(re.findall(r"citusadmin_[a-z0-9_]+", rule["expr"]))
    dashboard = json.loads((ROOT / "deploy/grafana/citusadmin-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            named.update(re.findall(r"citusadmin_[a-z0-9_]+", target["expr"]))
    for variable in dashboard["templating"]["list"]:
        named.update(re.findall(r"citusadmin_[a-z0-9_]+", str(variable.get("query", ""))))
    missing = sorted(n for n in named if n not in exposed)
    assert len(named) >= 15 and missing == []


def test_a_scrape_costs_the_same_queries_for_one_cluster_as_for_three(client, cluster_row, metrics_on):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clusters.models import Cluster

    collect(cluster_row)
    with CaptureQueriesContext(connection) as one:
        _scrape(client)
    for i in range(2):
        Cluster.objects.create(name=f"other-{i}", host="127.0.0.1", port=1)
    with CaptureQueriesContext(connection) as three:
        _scrape(client)
    assert len(three.captured_queries) == len(one.captured_queries)
