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
from clusters.models import Cluster
from monitoring.models import Collection, NodeSnapshot, TableSnapshot

logger = logging.getLogger(__name__)

COLLECTOR_APPLICATION_NAME = "citusadmin/collector"


def collect(cluster: Cluster, *, trigger: str = Collection.Trigger.SCHEDULE) -> Collection:
    """Measure one cluster. A part that fails is recorded as unknown with its reason; the rest is kept."""
    started = time.monotonic()
    collection = Collection.objects.create(cluster=cluster, trigger=trigger, started_at=timezone.now())
    node_rows: list[NodeSnapshot] = []
    table_rows: list[TableSnapshot] = []
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
            sizes: dict[int, stats.GroupSize] = {}
            try:
                sizes = {g.groupid: g for g in stats.group_sizes(sess, caps)}
                table_rows = [
                    TableSnapshot(
                        relid=t.logicalrelid,
                        bytes=t.bytes if t.sized == t.shards else None,
                        shards=t.shards,
                        sized_shards=t.sized,
                    )
                    for t in stats.table_sizes(sess, caps)
                ]
            except CitusError as exc:
                collection.sizes_error = exc.as_text()
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
            collection.max_shared_pool_size = int(pool) if pool and pool.lstrip("-").isdigit() else None
            max_conn = caps.setting("max_connections")
            collection.max_connections = int(max_conn) if max_conn and max_conn.isdigit() else None
        for node in nodes:
            reachable = reach.get(node.nodeid)
            size = sizes.get(node.groupid)
            known = size is not None and size.sized == size.placements and reachable is not False
            node_rows.append(
                NodeSnapshot(
                    nodeid=node.nodeid,
                    groupid=node.groupid,
                    nodename=node.nodename,
                    nodeport=node.nodeport,
                    shouldhaveshards=node.shouldhaveshards,
                    reachable=reachable,
                    placements=node.placements,
                    sized_placements=size.sized if size else 0,
                    bytes=(size.bytes or 0) if known and size is not None else (0 if node.placements == 0 else None),
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
    return collection


def prune(now: datetime | None = None) -> int:
    """Delete collections older than the retention period (default 30 days)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.COLLECTION_RETENTION_DAYS)
    deleted, _ = Collection.objects.filter(started_at__lt=cutoff).delete()
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
