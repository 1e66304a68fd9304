"""The background collector: one pass over a cluster, stored as a Collection with its snapshots."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from citusadmin.citus import capabilities, stats
from citusadmin.citus.connection import direct_session
from citusadmin.citus.errors import CitusError
from citusadmin.citus.nodes import list_nodes
from citusadmin.params import parse_int
from clusters.models import Cluster
from monitoring.models import Collection, ColocationNodeSnapshot, NodeSnapshot, ShardSize, TableSnapshot

logger = logging.getLogger(__name__)

COLLECTOR_APPLICATION_NAME = "citusadmin/collector"


def collect(cluster: Cluster, *, trigger: str = Collection.Trigger.SCHEDULE) -> Collection:
    """Measure one cluster. A part that fails is recorded as unknown with its reason; the rest is kept."""
    started = time.monotonic()
    collection = Collection.objects.create(cluster=cluster, trigger=trigger, started_at=timezone.now())
    node_rows: list[NodeSnapshot] = []
    table_rows: list[TableSnapshot] = []
    colocation_rows: list[ColocationNodeSnapshot] = []
    shard_rows: list[ShardSize] = []
    try:
        target = cluster.target()
        with direct_session(
            target,
            application_name=COLLECTOR_APPLICATION_NAME,
            statement_timeout_ms=settings.COLLECTOR_STATEMENT_TIMEOUT_MS,
        ) as sess:
            caps = capabilities.detect(sess)
            capabilities.remember(target, caps)
            collection.measured_at = caps.measured_at
            if not caps.citus_installed:
                raise CitusError("The citus extension is not installed in this database.")
            nodes = list_nodes(sess)
            reach = {r.nodeid: r.reachable for r in stats.reachability(sess)}
            sizes: dict[int, int] | None = None
            placement_rows = stats.placements(sess)
            names = stats.table_names(sess)
            try:
                sizes = stats.shard_sizes(sess, caps)
            except CitusError as exc:
                collection.sizes_error = exc.as_text()
            row_estimates: dict[int, int] = {}
            try:
                by_node = stats.shard_row_estimates(sess)
                group_of = {n.nodeid: n.groupid for n in nodes}
                placed = {(p.groupid, p.shardid) for p in placement_rows}
                for (nodeid, shardid), rows in by_node.items():  # only real placements count
                    if (group_of.get(nodeid), shardid) in placed:
                        row_estimates[shardid] = max(rows, row_estimates.get(shardid, 0))
            except CitusError as exc:
                logger.info("row estimates of %s not read: %s", cluster.name, exc.as_text())
            if caps.node_health_check:
                try:
                    collection.health = [
                        [f"{e.from_nodename}:{e.from_nodeport}", f"{e.to_nodename}:{e.to_nodeport}", e.result]
                        for e in stats.health_matrix(sess, settings.HEALTH_CHECK_TIMEOUT_MS)
                    ]
                except CitusError as exc:
                    collection.health_error = exc.as_text()
            else:
                collection.health_error = "citus_check_cluster_node_health() does not exist on this Citus version."
            connections: dict[tuple[str, int], int] = {}
            try:
                for c in stats.connection_stats(sess):
                    if c.database_name == caps.database:
                        connections[(c.hostname, c.port)] = c.connection_count_to_node
            except CitusError as exc:
                collection.connections_error = exc.user_message
            pool = caps.setting("citus.max_shared_pool_size")
            # -1 (no limit) and 0 (max_connections) mean something; anything not a plain integer is unknown
            pool = pool or ""
            negative = pool.startswith("-")
            magnitude = parse_int(pool[1:] if negative else pool, maximum=2**31 - 1)
            collection.max_shared_pool_size = None if magnitude is None else (-magnitude if negative else magnitude)
            collection.max_connections = parse_int(caps.setting("max_connections"), maximum=2**31 - 1)
            counts = stats.catalog_counts(
                sess,
                has_cleanup=caps.has_relation("pg_dist_cleanup"),
                has_tasks=caps.has_relation("pg_dist_background_task"),
            )
            collection.cleanup_records = counts.cleanup_records
            collection.failed_tasks = counts.failed_tasks
            collection.retrying_tasks = counts.retrying_tasks
        unreachable_groups = {n.groupid for n in nodes if reach.get(n.nodeid) is False}
        per_group, table_rows, colocation_rows, shard_rows = _aggregate(
            placement_rows, sizes, unreachable_groups, row_estimates
        )
        for table_row in table_rows:
            table_row.name = names.get(table_row.relid, "")[:300]
        for node in nodes:
            reachable = reach.get(node.nodeid)
            known, sized = per_group.get(node.groupid, (0, 0))
            complete = sizes is not None and reachable is not False and sized == node.placements
            node_rows.append(
                NodeSnapshot(
                    nodeid=node.nodeid,
                    groupid=node.groupid,
                    nodename=node.nodename,
                    nodeport=node.nodeport,
                    shouldhaveshards=node.shouldhaveshards,
                    isactive=node.isactive,
                    metadatasynced=node.metadatasynced or node.groupid == 0,
                    reachable=reachable,
                    placements=node.placements,
                    sized_placements=sized,
                    bytes=known if complete else (0 if node.placements == 0 else None),
                    connections=connections.get((node.nodename, node.nodeport)) if connections else None,
                )
            )
        collection.ok = True
    except CitusError as exc:
        collection.error = exc.as_text()
        logger.info("collection of %s failed: %s", cluster.name, collection.error)
    collection.finished = True
    collection.duration_ms = int((time.monotonic() - started) * 1000)
    if collection.measured_at is None:
        collection.measured_at = timezone.now()
    with transaction.atomic():
        collection.save()
        for row in node_rows:
            row.collection = collection
        NodeSnapshot.objects.bulk_create(node_rows)
        for table_row in table_rows:
            table_row.collection = collection
        TableSnapshot.objects.bulk_create(table_rows, batch_size=1000)
        for colocation_row in colocation_rows:
            colocation_row.collection = collection
        ColocationNodeSnapshot.objects.bulk_create(colocation_rows, batch_size=1000)
        if collection.ok and sizes is not None:
            # Per-shard sizes are kept for the latest collection only (the placement map reads them).
            ShardSize.objects.filter(cluster=cluster).delete()
            for shard_row in shard_rows:
                shard_row.cluster = cluster
                shard_row.measured_at = collection.measured_at
            ShardSize.objects.bulk_create(shard_rows, batch_size=2000)
    return collection


def _aggregate(
    placement_rows: list[stats.PlacementRow],
    sizes: dict[int, int] | None,
    unreachable_groups: set[int],
    row_estimates: dict[int, int] | None = None,
) -> tuple[dict[int, tuple[int, int]], list[TableSnapshot], list[ColocationNodeSnapshot], list[ShardSize]]:
    """From one size per shard: bytes per node group, per table, per (co-location group, node group).

    A placement on an unreachable node, or a shard with no size, is unknown: its sums become None
    (tables, co-location cells) or stay short of the placement count (nodes), never silently 0.
    """
    sizes = sizes or {}
    per_group: dict[int, list[int]] = {}
    row_estimates = row_estimates or {}
    tables: dict[int, list[int]] = {}  # relid -> [bytes, sized, shards, rows, estimated shards]
    seen_shards: set[int] = set()
    cells: dict[tuple[int, int], list[int]] = {}  # (colocation, group) -> [bytes, sized, placements]
    for p in placement_rows:
        size = None if p.groupid in unreachable_groups else sizes.get(p.shardid)
        g = per_group.setdefault(p.groupid, [0, 0])
        c = cells.setdefault((p.colocation_id, p.groupid), [0, 0, 0])
        c[2] += 1
        if size is not None:
            g[0] += size
            g[1] += 1
            c[0] += size
            c[1] += 1
        if p.shardid not in seen_shards:  # a table's size counts each shard once (reference tables too)
            seen_shards.add(p.shardid)
            t = tables.setdefault(p.relid, [0, 0, 0, 0, 0])
            t[2] += 1
            if sizes.get(p.shardid) is not None:
                t[0] += sizes[p.shardid]
                t[1] += 1
            if p.shardid in row_estimates:
                t[3] += row_estimates[p.shardid]
                t[4] += 1
    table_rows = [
        TableSnapshot(
            relid=relid,
            bytes=t[0] if t[1] == t[2] else None,
            shards=t[2],
            sized_shards=t[1],
            rows=t[3] if t[4] else None,
            estimated_shards=t[4],
        )
        for relid, t in tables.items()
    ]
    colocation_rows = [
        ColocationNodeSnapshot(
            colocation_id=colocation, groupid=group, placements=c[2], bytes=c[0] if c[1] == c[2] else None
        )
        for (colocation, group), c in cells.items()
    ]
    shard_rows = [ShardSize(shardid=shardid, bytes=size) for shardid, size in sizes.items()]
    return {g: (v[0], v[1]) for g, v in per_group.items()}, table_rows, colocation_rows, shard_rows


def prune(now: datetime | None = None) -> int:
    """Delete collections older than the retention period (default 30 days), and thin the per-table
    history: past ``HISTORY_FULL_RESOLUTION_HOURS`` only the first collection of each hour keeps its
    table and co-location rows (5,000 tables measured every minute would otherwise add 7 million rows
    a day). Node rows, a few per collection, are kept at full resolution."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.COLLECTION_RETENTION_DAYS)
    deleted, _ = Collection.objects.filter(started_at__lt=cutoff).delete()
    thin_before = now - timedelta(hours=settings.HISTORY_FULL_RESOLUTION_HOURS)
    candidates = list(
        Collection.objects.filter(thinned=False, finished=True, started_at__lt=thin_before)
        .order_by("cluster_id", "started_at")
        .values_list("id", "cluster_id", "started_at")
    )
    if not candidates:
        return deleted
    kept_hours = set(
        Collection.objects.filter(thinned=True, started_at__gte=candidates[0][2].replace(minute=0, second=0))
        .exclude(tables__isnull=True)
        .values_list("cluster_id", "started_at__date", "started_at__hour")
        .distinct()
    )
    drop: list[int] = []
    for cid, cluster_id, started in candidates:
        hour = (cluster_id, started.date(), started.hour)
        if hour in kept_hours:
            drop.append(cid)
        else:
            kept_hours.add(hour)
    for start in range(0, len(drop), 500):
        batch = drop[start : start + 500]
        TableSnapshot.objects.filter(collection_id__in=batch).delete()
        ColocationNodeSnapshot.objects.filter(collection_id__in=batch).delete()
    Collection.objects.filter(id__in=[c[0] for c in candidates]).update(thinned=True)
    return deleted


def latest(cluster: Cluster) -> Collection | None:
    """The latest finished collection with its node snapshots (two app-database queries)."""
    return (
        Collection.objects.filter(cluster=cluster, finished=True)
        .order_by("-started_at")
        .prefetch_related("nodes")
        .first()
    )


def latest_finished(cluster: Cluster) -> Collection | None:
    """The latest successful collection, without its snapshots (one app-database query)."""
    return Collection.objects.filter(cluster=cluster, finished=True, ok=True).order_by("-started_at").first()


def is_stale(collection: Collection | None) -> bool:
    if collection is None or collection.measured_at is None:
        return True
    return timezone.now() - collection.measured_at > timedelta(seconds=2 * settings.COLLECTOR_INTERVAL)
