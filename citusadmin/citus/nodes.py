"""Topology reads and node management (citus-api.md §3). Catalog reads only: no fan-out."""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.citus.connection import Session


@dataclass(frozen=True)
class Node:
    """One row of ``pg_dist_node`` with its placement count (columns stable from 11.0 to 13.2)."""

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
    placements: int

    @property
    def is_coordinator(self) -> bool:
        return self.groupid == 0

    @property
    def address(self) -> str:
        return f"{self.nodename}:{self.nodeport}"


LIST_NODES = """
SELECT n.nodeid, n.groupid, n.nodename, n.nodeport, n.noderole::text AS noderole,
       n.nodecluster::text AS nodecluster, n.isactive, n.hasmetadata, n.metadatasynced,
       n.shouldhaveshards, COALESCE(p.placements, 0)::int AS placements
  FROM pg_dist_node n
  LEFT JOIN (SELECT groupid, count(*) AS placements FROM pg_dist_placement GROUP BY groupid) p
         ON p.groupid = n.groupid
 ORDER BY n.groupid, n.nodeid
"""


def list_nodes(sess: Session) -> list[Node]:
    """Every node with its placement count, in one statement whatever the cluster's size."""
    return sess.fetch_all(LIST_NODES, row=Node)
