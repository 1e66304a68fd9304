"""What the table pages read from a cluster: each function opens one gateway session, sends a fixed
number of catalog statements and returns data (views never open a session). Raises CitusError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from citusadmin.citus import capabilities
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus import tables as citus_tables
from citusadmin.citus.connection import session
from clusters.models import Cluster


def table_page(cluster: Cluster, *, limit: int, **filters: Any) -> list[citus_tables.TableRow]:
    """One keyset page of tables (``limit`` rows) with the list's filters and sort."""
    target = cluster.target()
    caps = capabilities.get_capabilities(target)
    with session(target) as sess:
        return citus_tables.list_tables(
            sess, has_pg_dist_schema=caps.has_relation("pg_dist_schema"), limit=limit, **filters
        )


def table_info(cluster: Cluster, relid: int) -> citus_tables.TableInfo | None:
    with session(cluster.target()) as sess:
        return citus_tables.table_info(sess, relid)


def table_with_shards(
    cluster: Cluster, relid: int, *, after: int | None, limit: int
) -> tuple[citus_tables.TableInfo | None, list[citus_tables.Placement]]:
    with session(cluster.target()) as sess:
        info = citus_tables.table_info(sess, relid)
        if info is None:
            return None, []
        return info, citus_tables.shard_page(sess, relid, after=after, limit=limit)


@dataclass(frozen=True)
class DistributeInputs:
    caps: capabilities.Capabilities
    info: citus_tables.TableInfo | None
    partners: list[str]


def distribute_inputs(cluster: Cluster, relid: int) -> DistributeInputs:
    """The table, and the hash-distributed tables it may be co-located with."""
    target = cluster.target()
    caps = capabilities.get_capabilities(target)
    with session(target) as sess:
        return DistributeInputs(caps, citus_tables.table_info(sess, relid), citus_tables.hash_distributed_tables(sess))


def distribute_facts(
    cluster: Cluster, info: citus_tables.TableInfo, colocate_with: str
) -> tuple[citus_tables.Colocation | None, int | None]:
    """What the distribute checks need: the co-location group to join, and the exact row count of a
    plain table (what the copy will move)."""
    colocation = None
    rows = None
    if colocate_with in ("default", "none") and info.kind != "local":
        return colocation, rows  # nothing to ask
    with session(cluster.target()) as sess:
        if colocate_with not in ("default", "none"):
            colocation = citus_tables.colocation_of(sess, colocate_with)
        if info.kind == "local":
            rows = citus_tables.count_rows(sess, info.schema, info.name)
    return colocation, rows


def colocation_page(
    cluster: Cluster, *, after: int | None, size: int
) -> tuple[list[citus_tables.Colocation], list[citus_nodes.Node], list[citus_tables.GroupPlacement], bool]:
    """``size`` co-location groups from ``after``, the nodes, and those groups' placements; and whether
    more groups follow."""
    with session(cluster.target()) as sess:
        groups = citus_tables.colocation_groups(sess, after=after, limit=size + 1)
        nodes = citus_nodes.list_nodes(sess)
        shown = groups[:size]
        placements = citus_tables.group_placements(sess, [g.colocation_id for g in shown])
    return shown, nodes, placements, len(groups) > size


def schemas(cluster: Cluster) -> tuple[list[citus_tables.SchemaRow], bool]:
    """The schemas, and whether the cluster has schema-based sharding (Citus 12.0+)."""
    target = cluster.target()
    caps = capabilities.get_capabilities(target)
    with session(target) as sess:
        rows = citus_tables.list_schemas(sess, has_pg_dist_schema=caps.has_relation("pg_dist_schema"))
    return rows, caps.schema_sharding


def find_relid(cluster: Cluster, schema: str, name: str) -> int | None:
    with session(cluster.target()) as sess:
        return citus_tables.find_relid(sess, schema, name)


def table_columns(cluster: Cluster, schema: str, name: str) -> list[tuple[str, str]]:
    """A table's columns (name, type), for the forms that ask for one; [] when there is no such table."""
    with session(cluster.target()) as sess:
        relid = citus_tables.find_relid(sess, schema, name)
        info = citus_tables.table_info(sess, relid) if relid is not None else None
    return [(c.name, c.type) for c in info.columns] if info else []
