"""Topology reads and node management (citus-api.md §3). Catalog reads only: no fan-out.

Management functions are built as ``psycopg.sql`` statements with literal values, so the preview a
user confirms is exactly the statement that is sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from citusadmin.citus.connection import Session


@dataclass(frozen=True)
class Node:
    """One row of ``pg_dist_node`` with its placement counts (columns stable from 11.0 to 13.2)."""

    nodeid: int
    groupid: int
    nodename: str
    nodeport: int
    noderole: str
    nodecluster: str
    isactive: bool
    hasmetadata: bool
    metadatasynced: bool
    shouldhaveshards: bool
    placements: int  # every placement in the node's group
    reference_placements: int  # of which reference-table placements
    missing_reference_placements: int  # reference-table shards with no placement in this group

    @property
    def is_coordinator(self) -> bool:
        return self.groupid == 0

    @property
    def address(self) -> str:
        return f"{self.nodename}:{self.nodeport}"

    @property
    def data_placements(self) -> int:
        """Placements that would be lost by removing the node (not reference-table copies)."""
        return self.placements - self.reference_placements

    @property
    def metadata_out_of_sync(self) -> bool:
        return not self.is_coordinator and self.hasmetadata and not self.metadatasynced


LIST_NODES = """
WITH reference_shards AS (
    SELECT s.shardid
      FROM pg_dist_shard s
      JOIN pg_dist_partition p ON p.logicalrelid = s.logicalrelid
     WHERE p.partmethod = 'n' AND p.repmodel = 't'
), per_group AS (
    SELECT pl.groupid, count(*) AS placements,
           count(*) FILTER (WHERE pl.shardid IN (SELECT shardid FROM reference_shards)) AS reference_placements
      FROM pg_dist_placement pl
     GROUP BY pl.groupid
)
SELECT n.nodeid, n.groupid, n.nodename, n.nodeport, n.noderole::text AS noderole,
       n.nodecluster::text AS nodecluster, n.isactive, n.hasmetadata, n.metadatasynced,
       n.shouldhaveshards,
       COALESCE(g.placements, 0)::int AS placements,
       COALESCE(g.reference_placements, 0)::int AS reference_placements,
       (SELECT count(*) FROM reference_shards r
         WHERE NOT EXISTS (SELECT 1 FROM pg_dist_placement x
                            WHERE x.shardid = r.shardid AND x.groupid = n.groupid))::int
           AS missing_reference_placements
  FROM pg_dist_node n
  LEFT JOIN per_group g ON g.groupid = n.groupid
 ORDER BY n.groupid, n.nodeid
"""


def list_nodes(sess: Session) -> list[Node]:
    """Every node with its placement counts, in one statement whatever the cluster's size."""
    return sess.fetch_all(LIST_NODES, row=Node)


# --- management statements ----------------------------------------------------------------------


def add_node_sql(
    host: str, port: int, *, groupid: int | None = None, role: str = "primary", nodecluster: str = "default"
) -> sql.Composed:
    parts: list[sql.Composable] = [sql.Literal(host), sql.Literal(port)]
    if groupid is not None:
        parts.append(sql.SQL("groupid => {}").format(sql.Literal(groupid)))
    if role != "primary":
        parts.append(sql.SQL("noderole => {}::noderole").format(sql.Literal(role)))
    if nodecluster != "default":
        parts.append(sql.SQL("nodecluster => {}").format(sql.Literal(nodecluster)))
    return sql.SQL("SELECT citus_add_node({})").format(sql.SQL(", ").join(parts))


def activate_node_sql(host: str, port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_activate_node({}, {})").format(sql.Literal(host), sql.Literal(port))


def disable_node_sql(host: str, port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_disable_node({}, {}, synchronous => true)").format(
        sql.Literal(host), sql.Literal(port)
    )


def set_should_have_shards_sql(host: str, port: int, value: bool) -> sql.Composed:
    return sql.SQL("SELECT citus_set_node_property({}, {}, 'shouldhaveshards', {})").format(
        sql.Literal(host), sql.Literal(port), sql.Literal(value)
    )


def update_node_sql(nodeid: int, new_host: str, new_port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_update_node({}, {}, {})").format(
        sql.Literal(nodeid), sql.Literal(new_host), sql.Literal(new_port)
    )


def set_coordinator_host_sql(host: str, port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_set_coordinator_host({}, {})").format(sql.Literal(host), sql.Literal(port))


def remove_node_sql(host: str, port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_remove_node({}, {})").format(sql.Literal(host), sql.Literal(port))


def render(statement: sql.Composed) -> str:
    """The statement as text, for previews and the audit trail."""
    return statement.as_string()


def run(sess: Session, statement: sql.Composed) -> object:
    """Send a management statement; returns its single value (e.g. the node id)."""
    return sess.scalar(statement)


def find_node(sess: Session, nodeid: int) -> Node | None:
    return next((n for n in list_nodes(sess) if n.nodeid == nodeid), None)
