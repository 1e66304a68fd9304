"""What the rebalance and drain pages read from a cluster (one gateway session each; views never
open one). Raises CitusError."""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.citus import capabilities, rebalance
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import session
from citusadmin.citus.tables import hash_distributed_tables
from clusters.models import Cluster


@dataclass(frozen=True)
class RebalanceInputs:
    caps: capabilities.Capabilities
    strategies: list[rebalance.Strategy]
    tables: list[str]
    nodes: list[citus_nodes.Node]


def rebalance_inputs(cluster: Cluster) -> RebalanceInputs:
    """The rebalance form's choices (strategies, tables) and the nodes the preview compares."""
    target = cluster.target()
    caps = capabilities.get_capabilities(target)
    with session(target) as sess:
        return RebalanceInputs(
            caps, rebalance.strategies(sess), hash_distributed_tables(sess), citus_nodes.list_nodes(sess)
        )


def table_placements(cluster: Cluster, relation: str) -> dict[str, int]:
    """One table's placements per node address."""
    with session(cluster.target()) as sess:
        return rebalance.table_placements(sess, relation)
