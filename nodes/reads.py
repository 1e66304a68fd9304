"""What the node pages read from a cluster (one gateway session each; views never open one).
Raises CitusError."""

from __future__ import annotations

from citusadmin.citus import capabilities
from citusadmin.citus import cleanup as citus_cleanup
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import session
from clusters.models import Cluster


def topology(cluster: Cluster) -> tuple[capabilities.Capabilities, list[citus_nodes.Node]]:
    """What the cluster offers (cached) and its nodes (none when Citus is not installed)."""
    target = cluster.target()
    caps = capabilities.get_capabilities(target)
    if not caps.citus_installed:
        return caps, []
    with session(target) as sess:
        return caps, citus_nodes.list_nodes(sess)


def nodes(cluster: Cluster) -> list[citus_nodes.Node]:
    with session(cluster.target()) as sess:
        return citus_nodes.list_nodes(sess)


def cleanup_records(cluster: Cluster) -> list[citus_cleanup.CleanupRecord]:
    with session(cluster.target()) as sess:
        return citus_cleanup.records(sess)
