"""What each job kind needs: its permission, how it runs, and what it locks."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.models import Job

BACKGROUND = "citus_background"  # Citus runs it (citus_rebalance_start); we supervise
BLOCKING = "blocking"  # holds a database session until done
LOCAL = "local"  # runs in the worker (health check)


@dataclass(frozen=True)
class KindSpec:
    perm: str
    mode: str
    lock: str  # '' = may run alongside others
    progress_from_rebalancer: bool = False


KINDS: dict[str, KindSpec] = {
    Job.Kind.REBALANCE: KindSpec("jobs.start_rebalance", BACKGROUND, "rebalance"),
    Job.Kind.DRAIN_NODE: KindSpec("jobs.drain_node", BACKGROUND, "rebalance"),
    Job.Kind.DRAIN_AND_REMOVE: KindSpec("nodes.remove_node", BACKGROUND, "rebalance"),
    Job.Kind.REBALANCE_TABLE: KindSpec("jobs.start_rebalance", BLOCKING, "rebalance", progress_from_rebalancer=True),
    Job.Kind.CHANGE_SHARD_COUNT: KindSpec("jobs.alter_table", BLOCKING, "rebalance"),
    Job.Kind.DISTRIBUTE_CONCURRENTLY: KindSpec("jobs.alter_table", BLOCKING, ""),
    Job.Kind.MAKE_REFERENCE: KindSpec("tables.make_reference_table", BLOCKING, ""),
    Job.Kind.VACUUM: KindSpec("jobs.start_maintenance", BLOCKING, ""),
    Job.Kind.ANALYZE: KindSpec("jobs.start_maintenance", BLOCKING, ""),
    Job.Kind.HEALTH_CHECK: KindSpec("monitoring.collect_now", LOCAL, ""),
}
