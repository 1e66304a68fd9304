"""What the console last knew of every cluster, read in a fixed number of app-database queries
(whatever the number of clusters): the latest finished collection with its nodes, and the latest
reachability probe. Metrics and alerts both read it, so they agree on what "unreachable" means."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, Subquery

from clusters.models import Cluster
from monitoring import reach
from monitoring.models import Collection, NodeSnapshot


@dataclass
class ClusterState:
    cluster: Cluster
    collection: Collection | None
    nodes: list[NodeSnapshot] = field(default_factory=list)
    live: reach.LiveReach | None = None

    def reachable(self, node: NodeSnapshot) -> bool | None:
        """The probe's answer while it is fresh, else the collector's."""
        if self.live is not None and not self.live.error:
            return self.live.nodes.get(node.nodeid)
        return node.reachable

    @property
    def connection_limit(self) -> int | None:
        c = self.collection
        limit = (c.max_shared_pool_size or c.max_connections) if c is not None else None
        return limit if limit and limit > 0 else None

    def age_seconds(self, now: datetime) -> float | None:
        c = self.collection
        return None if c is None else (now - (c.measured_at or c.started_at)).total_seconds()

    @property
    def skew_percent(self) -> float | None:
        return skew(self.nodes)


def cluster_states() -> list[ClusterState]:
    """Three queries (clusters with their latest collection id, those collections, their nodes)."""
    latest = Subquery(Collection.objects.filter(cluster=OuterRef("pk"), finished=True).order_by("-id").values("id")[:1])
    clusters = list(Cluster.objects.annotate(latest_id=latest).order_by("name"))
    collections = {c.pk: c for c in Collection.objects.filter(id__in=[c.latest_id for c in clusters if c.latest_id])}
    nodes: dict[int, list[NodeSnapshot]] = {}
    for node in NodeSnapshot.objects.filter(collection_id__in=list(collections)):
        nodes.setdefault(node.collection_id, []).append(node)
    states = []
    for cluster in clusters:
        collection = collections.get(cluster.latest_id) if cluster.latest_id else None
        states.append(
            ClusterState(
                cluster,
                collection,
                nodes.get(collection.pk, []) if collection else [],
                reach.latest(cluster.pk),
            )
        )
    return states


def skew(nodes: list[NodeSnapshot]) -> float | None:
    """How far the fullest worker is above the mean, in percent (bytes when every worker's are known,
    else placements); None with fewer than two workers that take shards."""
    workers = [n for n in nodes if n.groupid != 0 and n.shouldhaveshards]
    if len(workers) < 2:
        return None
    values = [n.bytes for n in workers]
    if any(v is None for v in values):
        values = [n.placements for n in workers]
    numbers = [float(v or 0) for v in values]
    mean = sum(numbers) / len(numbers)
    return 0.0 if mean == 0 else round((max(numbers) - mean) / mean * 100, 2)
