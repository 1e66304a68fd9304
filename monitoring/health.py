"""The health checks: each green, amber or red, with the reason and the fix."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.timesince import timesince

from citusadmin.citus import monitoring
from citusadmin.citus.nodes import Node
from jobs.heartbeat import WorkerStatus
from monitoring.collector import is_stale
from monitoring.models import Collection
from monitoring.reach import LiveReach
from nodes import health as node_health

GREEN, AMBER, RED, UNKNOWN = "green", "amber", "red", "unknown"
_RANK = {GREEN: 0, UNKNOWN: 1, AMBER: 2, RED: 3}


@dataclass
class Check:
    key: str
    title: str
    status: str
    reason: str
    fix: str = ""
    measured: str = "now"  # "now" (this page's statement) or the collection's time


def overall(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=lambda s: _RANK[s], default=GREEN)


def evaluate(
    prereq: monitoring.Prerequisites,
    nodes: list[Node],
    facts: monitoring.HealthFacts,
    unreachable: list[str],
    collection: Collection | None,
) -> list[Check]:
    """``nodes`` from ``citus.nodes.list_nodes`` (the overview's statement), ``facts`` from
    ``monitoring.health_facts``; thresholds shared with the overview's banners (``nodes.health``)."""
    primaries = [n for n in nodes if n.noderole == "primary"]
    checks = [_reachable(primaries, facts.reach, unreachable)]
    inactive = [n.address for n in primaries if not n.isactive]
    if inactive:
        checks.append(
            Check(
                "inactive",
                "Inactive nodes",
                AMBER,
                f"Disabled (isactive = false): {', '.join(inactive)}. Queries needing their shards fail.",
                "Bring the node back, then activate it on the Nodes page (citus_activate_node).",
            )
        )
    else:
        checks.append(Check("inactive", "Inactive nodes", GREEN, "Every node is active."))
    unsynced = [n.address for n in primaries if n.isactive and n.metadata_out_of_sync]
    if unsynced:
        checks.append(
            Check(
                "metadata",
                "Metadata synced",
                AMBER,
                f"Metadata not yet synced to {', '.join(unsynced)}; the maintenance daemon retries.",
                "If it persists, check the node is reachable; SELECT start_metadata_sync_to_all_nodes(); forces it.",
            )
        )
    else:
        synced = sum(1 for n in primaries if n.hasmetadata)
        checks.append(Check("metadata", "Metadata synced", GREEN, f"Synced on all {synced} nodes."))
    checks.append(_cleanup(prereq, facts))
    checks.append(_tasks(prereq, facts))
    missing = [
        f"{n.address} ({n.missing_reference_placements} missing)"
        for n in primaries
        if n.isactive and n.missing_reference_placements
    ]
    if missing:
        checks.append(
            Check(
                "reference",
                "Reference tables on every node",
                RED,
                f"Reference-table shards missing on: {', '.join(missing)}. Joins with reference tables fail there.",
                "SELECT replicate_reference_tables();",
            )
        )
    else:
        checks.append(Check("reference", "Reference tables on every node", GREEN, "Every active node has them."))
    checks.extend(_from_collection(collection))
    statements = prereq.statements_missing
    tenants = prereq.tenants_missing
    if statements or tenants:
        checks.append(
            Check(
                "prerequisites",
                "Monitoring prerequisites",
                AMBER,
                "Query statistics: "
                + ("; ".join(statements) if statements else "ready")
                + ". Tenant statistics: "
                + ("; ".join(tenants) if tenants else "ready")
                + ".",
                "Each item says how to enable it.",
            )
        )
    else:
        checks.append(Check("prerequisites", "Monitoring prerequisites", GREEN, "Query and tenant statistics enabled."))
    return checks


def _reachable(nodes: list[Node], reach: list[monitoring.Reachability], unreachable: list[str]) -> Check:
    address = {n.nodeid: n.address for n in nodes}
    down = [address.get(r.nodeid, f"node {r.nodeid}") for r in reach if not r.reachable]
    down += [u for u in unreachable if u not in down]
    if not reach and not down:
        return Check("reachable", "Nodes reachable", UNKNOWN, "The check did not run.")
    if down:
        return Check(
            "reachable",
            "Nodes reachable",
            RED,
            f"The coordinator cannot connect to {', '.join(down)}. Queries touching their shards fail.",
            "Start the node or fix the network; if it is gone for good, replace it (Nodes page: drain and remove).",
        )
    return Check("reachable", "Nodes reachable", GREEN, f"The coordinator reached all {len(reach)} nodes.")


def _cleanup(prereq: monitoring.Prerequisites, facts: monitoring.HealthFacts) -> Check:
    if not prereq.has("pg_dist_cleanup") or facts.cleanup_records is None:
        return Check("cleanup", "Orphaned resources", UNKNOWN, "This Citus version has no pg_dist_cleanup.")
    if facts.cleanup_orphaned:
        return Check(
            "cleanup",
            "Orphaned resources",
            RED,
            f"{facts.cleanup_orphaned} of {facts.cleanup_records} records in pg_dist_cleanup belong to a node group "
            "that no longer exists (a node was removed before Citus dropped its leftovers). Nothing can drop them, "
            "and the next move of those shards fails and retries for half an hour.",
            "Open the cleanup page: it previews the records and the exact statement that forgets them.",
        )
    if facts.cleanup_records:
        return Check(
            "cleanup",
            "Orphaned resources",
            AMBER,
            f"{facts.cleanup_records} records in pg_dist_cleanup (for example {facts.cleanup_oldest}): leftovers of "
            "moves or splits that the maintenance daemon drops every citus.defer_shard_delete_interval.",
            "If they stay, run Citus's cleanup from the cleanup page (CALL citus_cleanup_orphaned_resources()).",
        )
    return Check("cleanup", "Orphaned resources", GREEN, "pg_dist_cleanup is empty.")


def _tasks(prereq: monitoring.Prerequisites, facts: monitoring.HealthFacts) -> Check:
    if not prereq.has("pg_dist_background_task"):
        return Check("tasks", "Background tasks", UNKNOWN, "This Citus version has no background tasks (11.1+).")
    if facts.failed_tasks:
        return Check(
            "tasks",
            "Background tasks",
            RED,
            "Failed: " + "; ".join(facts.failed_tasks),
            "Read the message, fix the cause, then start the rebalance again (Jobs).",
        )
    if facts.retrying_tasks:
        return Check(
            "tasks",
            "Background tasks",
            AMBER,
            "Retrying: " + "; ".join(facts.retrying_tasks),
            "Citus retries on its own (5 s, 20 s, then every 60 s); the message says what fails.",
        )
    return Check("tasks", "Background tasks", GREEN, "No failed or retrying background tasks.")


def _from_collection(collection: Collection | None) -> list[Check]:
    if collection is None:
        reason = "Not measured yet: the collector has not finished a run for this cluster."
        return [
            Check("skew", "Shard-size skew", UNKNOWN, reason),
            Check("connections", "Connection usage", UNKNOWN, reason),
        ]
    when = collection.measured_at.strftime("%Y-%m-%d %H:%M:%S UTC") if collection.measured_at else ""
    stale = " (stale: older than two collector intervals)" if is_stale(collection) else ""
    snapshots = list(collection.nodes.all())
    sized = {n.address: n.bytes for n in snapshots if n.shouldhaveshards and n.bytes is not None}
    threshold = settings.SKEW_THRESHOLD_PERCENT
    checks = []
    spread = node_health.skew(sized) if len(sized) >= 2 else None
    if len(sized) < 2:
        checks.append(Check("skew", "Shard-size skew", UNKNOWN, "Fewer than two measured nodes.", measured=when))
    elif spread is None or spread[0] <= threshold or max(sized.values()) <= node_health.SKEW_MIN_BYTES:
        big, small = max(sized.values()), min(sized.values())
        checks.append(
            Check(
                "skew",
                "Shard-size skew",
                GREEN,
                f"Largest node {filesizeformat(big)}, smallest {filesizeformat(small)}{stale}.",
                measured=when,
            )
        )
    else:
        checks.append(
            Check(
                "skew",
                "Shard-size skew",
                AMBER,
                f"{spread[1]} holds {filesizeformat(sized[spread[1]])}, {spread[2]} holds "
                f"{filesizeformat(sized[spread[2]])}: {spread[0]:.0f}% of the mean apart (threshold {threshold}%)"
                f"{stale}.",
                "Preview a rebalance with the by_disk_size strategy (Jobs → Rebalance).",
                measured=when,
            )
        )
    limit = node_health.connection_limit(collection)
    if collection.connections_error or not limit:
        checks.append(
            Check(
                "connections",
                "Connection usage",
                UNKNOWN,
                collection.connections_error or "No connection limit measured.",
                measured=when,
            )
        )
    else:
        used = sum(n.connections or 0 for n in snapshots)
        per_node = max((n.connections or 0 for n in snapshots), default=0)
        share = per_node / limit
        status = RED if share >= 0.95 else AMBER if share >= node_health.CONNECTIONS_NEAR_LIMIT else GREEN
        checks.append(
            Check(
                "connections",
                "Connection usage",
                status,
                f"Busiest node: {per_node} of {limit} connections from the coordinator ({share:.0%}); {used} in all"
                f"{stale}.",
                "" if status == GREEN else "Raise citus.max_shared_pool_size, or add PgBouncer in front.",
                measured=when,
            )
        )
    return checks


def workers_check(status: WorkerStatus) -> Check:
    """The console's own background processes: without a worker no job runs and nothing is measured."""
    if not status.worker_alive:
        seen = f"last seen {timesince(status.worker_seen_at)} ago" if status.worker_seen_at else "never seen"
        return Check(
            "workers",
            "Console workers",
            RED,
            f"No Celery worker is running ({seen}): jobs wait in the queue and measurements are not refreshed.",
            "./run restarts a worker that dies (see var/log/supervisord.log and var/log/worker.log); "
            "elsewhere start `celery -A citusadmin worker`.",
        )
    if not status.beat_alive:
        return Check(
            "workers",
            "Console workers",
            AMBER,
            "Celery beat is not running: no scheduled measurement, and a job whose worker died is not re-attached.",
            "./run restarts it (var/log/beat.log); elsewhere start `celery -A citusadmin beat`.",
        )
    return Check(
        "workers",
        "Console workers",
        GREEN,
        f"A worker and beat reported within the last {status.stale_after} s.",
    )


def reachable_from_probe(check: Check, live: LiveReach, names: dict[int, str]) -> Check:
    """The reachability check from the latest probe (monitoring.reach), the measurement the Overview and
    the Nodes page show, with its time; other checks unchanged."""
    if check.key != "reachable":
        return check
    reach = [monitoring.Reachability(nodeid, ok) for nodeid, ok in live.nodes.items() if nodeid in names]
    probed = _reachable([], [], [])
    down = [names[r.nodeid] for r in reach if not r.reachable]
    if down:
        probed = Check(
            "reachable",
            "Nodes reachable",
            RED,
            f"The coordinator cannot connect to {', '.join(down)}. Queries touching their shards fail.",
            "Start the node or fix the network; if it is gone for good, replace it (Nodes page: drain and remove).",
        )
    elif reach:
        probed = Check("reachable", "Nodes reachable", GREEN, f"The coordinator reached all {len(reach)} nodes.")
    probed.measured = f"probed {live.measured_at:%H:%M:%S} UTC"
    return probed
