"""Table catalog reads (citus-api.md §4). Catalog only: no fan-out."""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.citus.connection import Session


@dataclass(frozen=True)
class TableName:
    name: str  # as regclass text: schema-qualified when not on the search path


def hash_distributed_tables(sess: Session, limit: int = 2000) -> list[str]:
    rows = sess.fetch_all(
        "SELECT p.logicalrelid::regclass::text AS name FROM pg_dist_partition p "
        "WHERE p.partmethod = 'h' ORDER BY 1 LIMIT %s",
        (limit,),
        row=TableName,
    )
    return [r.name for r in rows]
