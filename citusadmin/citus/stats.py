"""Fan-out reads for the background collector: shard sizes, reachability, health, connections.

These reach every node, so they never run in a page request (quality-notes.md): the collector runs
them once per interval and stores the result with the time it was measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import sql

from citusadmin.citus import errors
from citusadmin.citus.capabilities import Capabilities
from citusadmin.citus.connection import Session


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
class ShardSizeRow:
    shardid: int
    size: int


@dataclass(frozen=True)
class PlacementRow:
    shardid: int
    groupid: int
    relid: int
    colocation_id: int


_SIZES_BY_ID = "SELECT shard_id::bigint AS shardid, max(size) AS size FROM citus_shard_sizes() GROUP BY shard_id"
# Before extension 11.3-2 the function returned (table_name, size) with the shard's qualified name.
_SIZES_BY_NAME = (
    "SELECT substring(table_name FROM '_(\\d+)$')::bigint AS shardid, max(size) AS size "
    "FROM citus_shard_sizes() GROUP BY 1"
)


def shard_sizes(sess: Session, caps: Capabilities) -> dict[int, int]:
    """Size of every shard: the one ``citus_shard_sizes()`` call of a collection (a node that is down
    returns no rows, so its shards are missing: unknown, never 0)."""
    query = _SIZES_BY_ID if caps.shard_sizes_by_id else _SIZES_BY_NAME
    return {r.shardid: r.size for r in sess.fetch_all(query, row=ShardSizeRow)}


@dataclass(frozen=True)
class NodeRowEstimates:
    nodeid: int
    success: bool
    result: str


_ROW_ESTIMATES = """
SELECT nodeid, success, result FROM run_command_on_all_nodes($cmd$
  SELECT COALESCE(json_object_agg(substring(c.relname FROM '_([0-9]+)$'), c.reltuples::bigint), '{}')::text
    FROM pg_class c
   WHERE c.relkind IN ('r', 'p') AND c.relname ~ '_[0-9]+$' AND c.reltuples >= 0
$cmd$)
"""


def shard_row_estimates(sess: Session) -> dict[tuple[int, int], int]:
    """PostgreSQL's row estimate (``reltuples``, kept by ANALYZE and autovacuum) of every shard
    relation, per (nodeid, shardid): one statement that reaches every node, for the collector only.
    The coordinator's shell tables have no statistics of their own, so this is where a distributed
    table's row count can be read. A shard never analyzed has no estimate (missing, not 0)."""
    estimates: dict[tuple[int, int], int] = {}
    for row in sess.fetch_all(_ROW_ESTIMATES, row=NodeRowEstimates):
        if not row.success:
            continue
        for shard, rows in json.loads(row.result or "{}").items():
            if shard.isascii() and shard.isdigit():
                estimates[(row.nodeid, int(shard))] = int(rows)
    return estimates


@dataclass(frozen=True)
class TableName:
    relid: int
    name: str


def table_names(sess: Session) -> dict[int, str]:
    """Every Citus table's name (schema-qualified where needed), kept with the measurement so history
    still names a table after it is dropped (catalog only)."""
    rows = sess.fetch_all(
        "SELECT logicalrelid::oid::bigint AS relid, logicalrelid::regclass::text AS name FROM pg_dist_partition",
        row=TableName,
    )
    return {r.relid: r.name for r in rows}


def placements(sess: Session) -> list[PlacementRow]:
    """Every placement with its table and co-location group (catalog only)."""
    return sess.fetch_all(
        "SELECT p.shardid, p.groupid, s.logicalrelid::oid::bigint AS relid, d.colocationid AS colocation_id "
        "FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid) "
        "JOIN pg_dist_partition d ON d.logicalrelid = s.logicalrelid",
        row=PlacementRow,
    )


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


@dataclass(frozen=True)
class CatalogCounts:
    """Counts from the coordinator's catalog only (no fan-out), for the metrics."""

    cleanup_records: int | None
    failed_tasks: int | None
    retrying_tasks: int | None


def catalog_counts(sess: Session, *, has_cleanup: bool, has_tasks: bool) -> CatalogCounts:
    cleanup = "(SELECT count(*) FROM pg_dist_cleanup)::int" if has_cleanup else "NULL::int"
    failed = "(SELECT count(*) FROM pg_dist_background_task WHERE status = 'error')::int" if has_tasks else "NULL::int"
    retrying = (
        "(SELECT count(*) FROM pg_dist_background_task WHERE status IN ('runnable', 'running') "
        "AND COALESCE(retry_count, 0) > 0)::int"
        if has_tasks
        else "NULL::int"
    )
    statement = sql.SQL("SELECT {} AS cleanup_records, {} AS failed_tasks, {} AS retrying_tasks").format(
        sql.SQL(cleanup), sql.SQL(failed), sql.SQL(retrying)
    )
    row = sess.fetch_one(statement, row=CatalogCounts)
    assert row is not None
    return row
