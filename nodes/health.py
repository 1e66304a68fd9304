"""What needs attention on a cluster, from the live catalog and the latest collector snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from citusadmin.citus.nodes import Node
from monitoring.models import Collection, NodeSnapshot
from monitoring.reach import LiveReach


@dataclass(frozen=True)
class Banner:
    level: str  # 'bad' or 'warn'
    title: str
    reason: str
    fix: str


@dataclass(frozen=True)
class NodeView:
    """A node row for the page: live catalog facts plus the last measurement (None = unknown)."""

    node: Node
    snapshot: NodeSnapshot | None
    live_reachable: bool | None = None  # from the latest probe (monitoring.reach), when there is one

    @property
    def reachable(self) -> bool | None:
        if self.live_reachable is not None:
            return self.live_reachable
        return None if self.snapshot is None else self.snapshot.reachable

    @property
    def bytes(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.bytes

    @property
    def connections(self) -> int | None:
        return None if self.snapshot is None else self.snapshot.connections


def node_views(nodes: list[Node], collection: Collection | None, live: LiveReach | None = None) -> list[NodeView]:
    """Rows for the page; reachability from the live probe when there is a recent one (one story with
    Health), else from the collection."""
    snaps = {s.nodeid: s for s in collection.nodes.all()} if collection else {}
    reach = live.nodes if live is not None else {}
    return [NodeView(node=n, snapshot=snaps.get(n.nodeid), live_reachable=reach.get(n.nodeid)) for n in nodes]


def total_bytes(views: list[NodeView]) -> tuple[int, list[str]]:
    """The sum of known sizes, and the nodes whose size is unknown (never silently left out)."""
    known = sum(v.bytes for v in views if v.bytes is not None)
    unknown = [v.node.address for v in views if v.bytes is None and v.node.placements > 0]
    return known, unknown


def skew(values: dict[str, int]) -> tuple[float, str, str] | None:
    """(spread between the largest and smallest value as a percentage of the mean, largest, smallest)."""
    if len(values) < 2:
        return None
    mean = sum(values.values()) / len(values)
    if mean == 0:
        return None
    high = max(values, key=lambda k: values[k])
    low = min(values, key=lambda k: values[k])
    return (values[high] - values[low]) / mean * 100, high, low


SKEW_MIN_BYTES = 1024 * 1024  # below this, differences between nodes are noise
CONNECTIONS_NEAR_LIMIT = 0.8


def connection_limit(collection: Collection) -> int | None:
    """Connections the coordinator may hold to one node: citus.max_shared_pool_size, where 0 means
    max_connections and -1 no limit (None)."""
    limit = collection.max_shared_pool_size
    if limit is not None and limit == 0:
        limit = collection.max_connections
    return limit if limit and limit > 0 else None


def banners(views: list[NodeView], collection: Collection | None) -> list[Banner]:
    found: list[Banner] = []
    for v in views:
        n = v.node
        if not n.isactive:
            found.append(
                Banner(
                    "bad",
                    f"Node {n.address} is inactive",
                    "isactive = false in pg_dist_node: Citus routes no queries to it and shards on it are unavailable.",
                    "When the node is healthy again, activate it on the Nodes page (citus_activate_node).",
                )
            )
        if n.metadata_out_of_sync:
            found.append(
                Banner(
                    "warn",
                    f"Metadata not synced to {n.address}",
                    "metadatasynced = false: the coordinator's maintenance daemon has not finished syncing metadata.",
                    "Make sure the node is reachable; the daemon retries by itself. citus_activate_node forces a sync.",
                )
            )
        if v.reachable is False:
            found.append(
                Banner(
                    "bad",
                    f"Node {n.address} is unreachable",
                    "The coordinator could not connect to it at the last measurement, though Citus metadata still "
                    "lists it as active. Queries touching its shards fail.",
                    "Check that PostgreSQL runs there, the network, pg_hba.conf and citus.node_conninfo (SSL).",
                )
            )
        if n.missing_reference_placements and n.noderole == "primary" and n.isactive:
            found.append(
                Banner(
                    "warn",
                    f"Reference tables missing on {n.address}",
                    f"{n.missing_reference_placements} reference-table shard(s) have no placement on this node; "
                    "citus_add_node does not copy them, and shard moves refuse to run until they exist.",
                    "Run a rebalance (its first task copies reference tables) or replicate_reference_tables().",
                )
            )
    if collection is None:
        found.append(
            Banner(
                "warn",
                "No measurements yet",
                "Sizes, reachability and connection counts come from the background collector.",
                "Press Refresh now, or check that the Celery worker and beat are running.",
            )
        )
        return found
    if not collection.ok:
        found.append(
            Banner("bad", "The last measurement failed", collection.error, "Check the connection on the cluster page.")
        )
    limit = connection_limit(collection)
    if limit:
        for v in views:
            if v.connections is not None and v.connections >= CONNECTIONS_NEAR_LIMIT * limit:
                found.append(
                    Banner(
                        "warn",
                        f"Connections to {v.node.address} near the limit",
                        f"The coordinator holds {v.connections} connections to it; citus.max_shared_pool_size allows "
                        f"{limit}. Each worker connection consumes memory and a backend.",
                        "Put PgBouncer (or another pooler) in front of the coordinator for high concurrency; "
                        "lower citus.max_adaptive_executor_pool_size for many small queries.",
                    )
                )
    holders = [v for v in views if v.node.shouldhaveshards and not v.node.is_coordinator and v.node.isactive]
    sizes = {v.node.address: v.bytes for v in holders if v.bytes is not None}
    if len(sizes) == len(holders):
        data_skew = skew({k: int(b) for k, b in sizes.items()})
        if data_skew and data_skew[0] > settings.SKEW_THRESHOLD_PERCENT and max(sizes.values()) > SKEW_MIN_BYTES:
            found.append(
                Banner(
                    "warn",
                    "Data is skewed across nodes",
                    f"{data_skew[1]} holds {filesizeformat(sizes[data_skew[1]])}, "
                    f"{data_skew[2]} holds {filesizeformat(sizes[data_skew[2]])}: "
                    f"{data_skew[0]:.0f}% of the mean apart (threshold {settings.SKEW_THRESHOLD_PERCENT}%).",
                    "Preview a rebalance; consider the by_disk_size strategy.",
                )
            )
    counts = {v.node.address: v.node.placements for v in holders}
    count_skew = skew(counts)
    if count_skew and count_skew[0] > settings.SKEW_THRESHOLD_PERCENT and max(counts.values()) >= 4:
        found.append(
            Banner(
                "warn",
                "Shard counts are uneven",
                f"{count_skew[1]} holds {counts[count_skew[1]]} placements, "
                f"{count_skew[2]} holds {counts[count_skew[2]]}.",
                "Preview a rebalance (a newly added worker holds no shards until one runs).",
            )
        )
    return found


@dataclass(frozen=True)
class Matrix:
    labels: list[str]
    rows: list[tuple[str, list[bool | None]]]


def health_matrix(collection: Collection | None) -> Matrix | None:
    """The node-to-node connectivity grid from the latest collection (None when not measured)."""
    if collection is None or not collection.health:
        return None
    labels = sorted({edge[0] for edge in collection.health} | {edge[1] for edge in collection.health})
    result = {(edge[0], edge[1]): edge[2] for edge in collection.health}
    return Matrix(labels=labels, rows=[(src, [result.get((src, dst)) for dst in labels]) for src in labels])
