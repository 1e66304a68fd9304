"""Fan-out reads for the background collector: shard sizes, reachability, health, connections.

These reach every node, so they never run in a page request (quality-notes.md): the collector runs
them once per interval and stores the result with the time it was measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.citus import errors
from citusadmin.citus.capabilities import Capabilities
from citusadmin.citus.connection import Session


@dataclass(frozen=True)
class GroupSize:
    groupid: int
    placements: int
    sized: int  # placements for which a size came back
    bytes: int | None


@dataclass(frozen=True)
class Reachability:
    nodeid: int
    reachable: bool


@dataclass(frozen=True)
class HealthEdge:
    from_nodename: str
    from_nodeport: int
    to_nodename: str
    to_nodeport: int
    result: bool | None


@dataclass(frozen=True)
class NodeConnections:
    hostname: str
    port: int
    database_name: str
    connection_count_to_node: int


@dataclass(frozen=True)
class TableSize:
    logicalrelid: int
    bytes: int | None
    sized: int
    shards: int


_SIZES_BY_ID = "SELECT shard_id::bigint AS shardid, max(size) AS size FROM citus_shard_sizes() GROUP BY shard_id"
# Before extension 11.3-2 the function returned (table_name, size) with the shard's qualified name.
_SIZES_BY_NAME = (
    "SELECT substring(table_name FROM '_(\\d+)$')::bigint AS shardid, max(size) AS size "
    "FROM citus_shard_sizes() GROUP BY 1"
)


def _sizes_cte(caps: Capabilities) -> str:
    return _SIZES_BY_ID if caps.shard_sizes_by_id else _SIZES_BY_NAME


def group_sizes(sess: Session, caps: Capabilities) -> list[GroupSize]:
    """Bytes per node group: one ``citus_shard_sizes()`` call (a node that is down gives no rows)."""
    query = (
        "WITH sizes AS (" + _sizes_cte(caps) + ") "
        "SELECT p.groupid, count(*)::int AS placements, count(s.size)::int AS sized, sum(s.size)::bigint AS bytes "
        "FROM pg_dist_placement p LEFT JOIN sizes s ON s.shardid = p.shardid GROUP BY p.groupid"
    )
    return sess.fetch_all(query, row=GroupSize)


def table_sizes(sess: Session, caps: Capabilities) -> list[TableSize]:
    """Bytes per Citus table, from the same single size call (one placement per shard counted)."""
    query = (
        "WITH sizes AS (" + _sizes_cte(caps) + ") "
        "SELECT s.logicalrelid::oid::bigint AS logicalrelid, sum(z.size)::bigint AS bytes, "
        "count(z.size)::int AS sized, count(*)::int AS shards "
        "FROM pg_dist_shard s LEFT JOIN sizes z ON z.shardid = s.shardid GROUP BY s.logicalrelid"
    )
    return sess.fetch_all(query, row=TableSize)


def reachability(sess: Session) -> list[Reachability]:
    """Can the coordinator open a connection to each node? (One statement; WARNINGs on failure.)"""
    return sess.fetch_all(
        "SELECT nodeid, COALESCE(citus_check_connection_to_node(nodename, nodeport), false) AS reachable "
        "FROM pg_dist_node WHERE noderole = 'primary' ORDER BY nodeid",
        row=Reachability,
    )


def health_matrix(sess: Session, timeout_ms: int) -> list[HealthEdge]:
    """Every node to every node (N² rows), from ``citus_check_cluster_node_health()``.

    The checks between workers use each worker's own citus.node_connection_timeout (30 s by
    default), so one hung node can hold the whole matrix: it gets its own, shorter timeout.
    """
    try:
        with sess.statement_timeout(timeout_ms):
            return sess.fetch_all(
                "SELECT from_nodename, from_nodeport, to_nodename, to_nodeport, result "
                "FROM citus_check_cluster_node_health()",
                row=HealthEdge,
            )
    except errors.QueryTimeout:
        raise errors.QueryTimeout(
            f"The node-to-node health check did not finish within {timeout_ms / 1000:.0f} s: a node accepts "
            "connections but does not answer (the workers wait up to their citus.node_connection_timeout)."
        ) from None


def connection_stats(sess: Session) -> list[NodeConnections]:
    """Connections the coordinator holds to each node (superuser only)."""
    try:
        return sess.fetch_all(
            "SELECT hostname, port, database_name, connection_count_to_node FROM citus_remote_connection_stats()",
            row=NodeConnections,
        )
    except errors.PermissionDenied:
        raise errors.PermissionDenied(
            "Connection counts need a superuser: citus_remote_connection_stats() is not granted to this role."
        ) from None
