"""Prometheus metrics, built at scrape time from the console's own database (the collector's latest
snapshots, the reachability probe, jobs, heartbeats) and the broker's queue lengths: a scrape never
sends a statement to a cluster, and costs a fixed number of app-database queries whatever the
number of clusters and tables.

Labels are bounded: cluster and node names, job kinds and states, check names; per table only the
largest ``CITUSADMIN_METRICS_TOP_TABLES`` of each cluster; never a shard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from jobs.models import Job, WorkerHeartbeat
from monitoring import latest
from monitoring.models import TableSnapshot

# check name -> state: 0 ok, 1 warning, 2 failing, -1 unknown
OK, WARN, BAD, UNKNOWN = 0, 1, 2, -1
NODE, CHECK, WORKER = ["cluster", "node"], ["cluster", "check"], ["name", "kind"]


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class ConsoleCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        states = latest.cluster_states()
        collections = {st.collection.pk: st.collection for st in states if st.collection is not None}
        table_totals = {
            row["collection_id"]: row
            for row in TableSnapshot.objects.filter(collection_id__in=list(collections))
            .values("collection_id")
            .annotate(tables=Count("id"), shards=models_sum("shards"))
        }

        largest = _largest_tables(list(collections))
        up = _gauge("citusadmin_cluster_up", "1 when the latest collection of the cluster succeeded", ["cluster"])
        age = _gauge("citusadmin_collection_age_seconds", "Seconds since the latest finished collection", ["cluster"])
        duration = _gauge("citusadmin_collection_duration_seconds", "How long the latest collection took", ["cluster"])
        tables = _gauge("citusadmin_cluster_tables", "Citus tables in the latest collection", ["cluster"])
        shards = _gauge("citusadmin_cluster_shards", "Shards in the latest collection", ["cluster"])
        skew = _gauge(
            "citusadmin_cluster_skew_percent",
            "How far the fullest worker is above the mean (bytes, else placements), in percent",
            ["cluster"],
        )
        cleanup = _gauge("citusadmin_cleanup_records", "Records in pg_dist_cleanup (deferred drops)", ["cluster"])
        failed = _gauge("citusadmin_background_tasks_failed", "Citus background tasks in error", ["cluster"])
        retrying = _gauge("citusadmin_background_tasks_retrying", "Citus background tasks retrying", ["cluster"])
        pool = _gauge("citusadmin_connections_limit", "citus.max_shared_pool_size (else max_connections)", ["cluster"])
        node_up = _gauge("citusadmin_node_reachable", "1 when the coordinator reaches the node", NODE)
        node_active = _gauge("citusadmin_node_active", "1 when the node is active in pg_dist_node", NODE)
        node_synced = _gauge("citusadmin_node_metadata_synced", "1 when the node's metadata is synced", NODE)
        node_placements = _gauge("citusadmin_node_placements", "Shard placements on the node", NODE)
        node_bytes = _gauge("citusadmin_node_bytes", "Bytes of the placements on the node", NODE)
        node_conns = _gauge("citusadmin_node_connections", "Coordinator connections to the node", NODE)
        table_bytes = _gauge("citusadmin_table_bytes", "Bytes of the cluster's largest tables", ["cluster", "table"])
        check = _gauge(
            "citusadmin_health_check_state",
            "Health check: 0 ok, 1 warning, 2 failing, -1 unknown",
            CHECK,
        )
        for state in states:
            collection, name = state.collection, state.cluster.name
            if collection is None:
                up.add_metric([name], 0)
                check.add_metric([name, "collector"], UNKNOWN)
                continue
            up.add_metric([name], 1 if collection.ok else 0)
            collection_age = (now - (collection.measured_at or collection.started_at)).total_seconds()
            age.add_metric([name], collection_age)
            duration.add_metric([name], (collection.duration_ms or 0) / 1000)
            totals: Any = table_totals.get(collection.pk, {})
            tables.add_metric([name], totals.get("tables", 0))
            shards.add_metric([name], totals.get("shards") or 0)
            for metric, value in ((cleanup, collection.cleanup_records), (failed, collection.failed_tasks)):
                if value is not None:
                    metric.add_metric([name], value)
            if collection.retrying_tasks is not None:
                retrying.add_metric([name], collection.retrying_tasks)
            limit = state.connection_limit
            if limit:
                pool.add_metric([name], limit)
            members = state.nodes
            for node in members:
                address = node.address
                reachable = state.reachable(node)
                if reachable is not None:
                    node_up.add_metric([name, address], 1 if reachable else 0)
                node_active.add_metric([name, address], 1 if node.isactive else 0)
                node_synced.add_metric([name, address], 1 if node.metadatasynced else 0)
                node_placements.add_metric([name, address], node.placements)
                if node.bytes is not None:
                    node_bytes.add_metric([name, address], node.bytes)
                if node.connections is not None:
                    node_conns.add_metric([name, address], node.connections)
            skew_value = state.skew_percent
            if skew_value is not None:
                skew.add_metric([name], skew_value)
            for row in largest.get(collection.pk, []):
                table_bytes.add_metric([name, row["name"] or str(row["relid"])], row["bytes"] or 0)
            for check_name, value in _checks(state, collection_age):
                check.add_metric([name, check_name], value)
        yield from (up, age, duration, tables, shards, skew, cleanup, failed, retrying, pool)
        yield from (node_up, node_active, node_synced, node_placements, node_bytes, node_conns, table_bytes, check)
        yield from _jobs(now)
        yield from _workers(now)
        yield _queues()


def models_sum(field: str) -> Any:
    from django.db.models import Sum

    return Sum(field)


def _largest_tables(collection_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The largest METRICS_TOP_TABLES tables of each collection, in one query (a window per collection)."""
    if not collection_ids or settings.METRICS_TOP_TABLES <= 0:
        return {}
    ranked = (
        TableSnapshot.objects.filter(collection_id__in=collection_ids, bytes__isnull=False)
        .annotate(rank=Window(RowNumber(), partition_by=[F("collection_id")], order_by=F("bytes").desc()))
        .filter(rank__lte=settings.METRICS_TOP_TABLES)
        .values("collection_id", "name", "relid", "bytes")
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in ranked:
        out.setdefault(row["collection_id"], []).append(dict(row))
    return out


def _checks(state: latest.ClusterState, collection_age: float) -> list[tuple[str, int]]:
    collection, members, limit = state.collection, state.nodes, state.connection_limit
    assert collection is not None
    stale_after = settings.COLLECTOR_INTERVAL * 3
    reachable = [state.reachable(n) for n in members]
    out = [
        ("collector", OK if collection.ok and collection_age < stale_after else (BAD if not collection.ok else WARN)),
        ("nodes_reachable", UNKNOWN if not members else (BAD if any(r is False for r in reachable) else OK)),
        ("nodes_active", UNKNOWN if not members else (BAD if any(not n.isactive for n in members) else OK)),
        ("metadata_synced", UNKNOWN if not members else (WARN if any(not n.metadatasynced for n in members) else OK)),
        (
            "connectivity",
            UNKNOWN if not collection.health else (BAD if any(edge[2] is False for edge in collection.health) else OK),
        ),
        (
            "cleanup_records",
            UNKNOWN if collection.cleanup_records is None else (WARN if collection.cleanup_records else OK),
        ),
        (
            "background_tasks",
            UNKNOWN
            if collection.failed_tasks is None
            else (BAD if collection.failed_tasks else (WARN if collection.retrying_tasks else OK)),
        ),
    ]
    used = [n.connections for n in members if n.connections is not None]
    if limit and used:
        ratio = max(used) / limit
        out.append(("connections", BAD if ratio >= 0.95 else (WARN if ratio >= 0.8 else OK)))
    return out


def _jobs(now: Any) -> Iterator[Metric]:
    by_state = _gauge("citusadmin_jobs", "Jobs by kind and state", ["kind", "state"])
    for row in Job.objects.values("kind", "state").annotate(n=Count("id")).order_by():
        by_state.add_metric([row["kind"], row["state"]], row["n"])
    yield by_state
    durations: dict[str, list[float]] = {}
    for kind, started, ended in Job.objects.filter(
        finished_at__gte=now - timedelta(hours=24), started_at__isnull=False
    ).values_list("kind", "started_at", "finished_at"):
        if started is not None and ended is not None:
            durations.setdefault(kind, []).append((ended - started).total_seconds())
    finished = _gauge(
        "citusadmin_job_duration_seconds_sum_24h", "Total duration of the jobs finished in 24 h", ["kind"]
    )
    summary = _gauge("citusadmin_job_duration_seconds_max_24h", "Longest job of each kind finished in 24 h", ["kind"])
    count = _gauge("citusadmin_jobs_finished_24h", "Jobs of each kind finished in the last 24 hours", ["kind"])
    for kind, values in sorted(durations.items()):
        finished.add_metric([kind], sum(values))
        summary.add_metric([kind], max(values))
        count.add_metric([kind], len(values))
    yield from (finished, summary, count)


def _workers(now: Any) -> Iterator[Metric]:
    beat = _gauge(
        "citusadmin_worker_heartbeat_age_seconds",
        "Seconds since each running worker or beat was last seen",
        WORKER,
    )
    for hb in WorkerHeartbeat.objects.filter(stopped_at__isnull=True):
        beat.add_metric([hb.name, hb.kind], (now - hb.seen_at).total_seconds())
    yield beat


def _queues() -> Metric:
    depth = _gauge("citusadmin_queue_depth", "Messages waiting in the broker's queue", ["queue"])
    default = str(settings.CELERY_TASK_DEFAULT_QUEUE) if hasattr(settings, "CELERY_TASK_DEFAULT_QUEUE") else "celery"
    for queue in (default, f"{default}.collect"):
        length = _queue_length(queue)
        if length is not None:
            depth.add_metric([queue], length)
    return depth


def _queue_length(queue: str) -> int | None:
    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
            return int(client.llen(queue))
        except redis.RedisError:
            return None
    folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "")))
    if not folder.is_dir():
        return None
    suffix = f".{queue}.msg"
    try:
        return sum(1 for entry in os.scandir(folder) if entry.name.endswith(suffix))
    except OSError:
        return None


def exposition() -> bytes:
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsoleCollector())
    return generate_latest(registry)
