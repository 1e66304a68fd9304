"""Citus's deferred-drop records (``pg_dist_cleanup``, Citus 11.1+).

After a shard move or split Citus records the old copy there and drops it later (the maintenance
daemon every ``citus.defer_shard_delete_interval``, or ``citus_cleanup_orphaned_resources()``).
A record is only dropped by connecting to its node group: if the node was removed first, the record
points at a group that no longer exists, nothing can drop it, and the next move of that shard fails
("the orphaned shard ... leftover from the previous move could not be cleaned up") and retries for
half an hour. So a drain-and-remove waits for the drained group's records, and records of groups
that are gone can be forgotten (their objects went with the node).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from citusadmin.citus.connection import Session

# pg_dist_cleanup.object_type / policy_type (Citus's CleanupObject and CleanupPolicy enums)
OBJECT_TYPES = {1: "shard", 2: "subscription", 3: "replication slot", 4: "publication", 5: "user", 6: "database"}
POLICIES = {0: "always", 1: "on failure", 2: "deferred on success"}


@dataclass(frozen=True)
class CleanupRecord:
    record_id: int
    operation_id: int
    object_type: int
    object_name: str
    node_group_id: int
    policy_type: int
    node: str | None  # host:port of the group's primary; None when the group no longer exists

    @property
    def kind(self) -> str:
        return OBJECT_TYPES.get(self.object_type, f"type {self.object_type}")

    @property
    def policy(self) -> str:
        return POLICIES.get(self.policy_type, f"policy {self.policy_type}")

    @property
    def group_gone(self) -> bool:
        return self.node is None


_RECORDS = """
SELECT c.record_id, c.operation_id, c.object_type, c.object_name, c.node_group_id, c.policy_type,
       (SELECT n.nodename || ':' || n.nodeport FROM pg_dist_node n
         WHERE n.groupid = c.node_group_id AND n.noderole = 'primary' LIMIT 1) AS node
  FROM pg_dist_cleanup c
 WHERE (%(group)s::int IS NULL OR c.node_group_id = %(group)s::int)
 ORDER BY c.record_id
 LIMIT %(limit)s
"""


def records(sess: Session, *, group: int | None = None, limit: int = 500) -> list[CleanupRecord]:
    """One coordinator-local statement (no fan-out)."""
    return sess.fetch_all(_RECORDS, {"group": group, "limit": limit}, row=CleanupRecord)


def cleanup_sql() -> sql.Composed:
    """Drop every record Citus can drop now (connects to each record's node)."""
    return sql.SQL("CALL citus_cleanup_orphaned_resources()").format()


def forget_orphaned_sql(record_ids: list[int]) -> sql.Composed:
    """Delete exactly these records, and only while their group is still gone (re-checked in the
    statement itself, so a group re-created meanwhile keeps its records)."""
    return sql.SQL(
        "DELETE FROM pg_catalog.pg_dist_cleanup c WHERE c.record_id = ANY({}::bigint[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node n WHERE n.groupid = c.node_group_id)"
    ).format(sql.Literal(sorted(record_ids)))
