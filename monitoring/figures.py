"""The live monitoring figures: what each tab reads from the cluster, in one gateway session.

``compute(cluster, tab, options)`` is what the views share between viewers (``monitoring.shared``);
it returns the figures or ``{"error": CitusError}``. Figures that reach every node run inside
``fanout`` (a short timeout, the missing nodes named).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from citusadmin.citus import monitoring
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import Session, session
from citusadmin.citus.errors import CitusError
from clusters.models import Cluster
from jobs import heartbeat
from monitoring import health, reach, shared
from monitoring.collector import latest_finished

Options = dict[str, Any]


def _missing(sess: Session, missing: list[int | str]) -> list[str]:
    """The unreachable nodes by address (Citus names some by node id, some by host:port)."""
    if not missing:
        return []
    names = monitoring.node_names(sess) if any(isinstance(n, int) for n in missing) else {}
    return [n if isinstance(n, str) else names.get(n, f"node {n}") for n in missing]


def queries(sess: Session, prereq: monitoring.Prerequisites, cluster: Cluster, options: Options) -> dict[str, Any]:
    order = options["order"]
    if prereq.statements_missing:
        return {"missing": prereq.statements_missing, "order": order}
    return {"statements": monitoring.top_statements(sess, order=order), "order": order}


def activity(sess: Session, prereq: monitoring.Prerequisites, cluster: Cluster, options: Options) -> dict[str, Any]:
    include_idle, fragments = options["include_idle"], options["fragments"]
    view = "citus_stat_activity" if fragments else "citus_dist_stat_activity"
    if not prereq.has(view):
        return {"missing": [f"This Citus version has no {view} view."]}
    with monitoring.fanout(sess) as missing:
        backends = monitoring.activity(sess, include_idle=include_idle, worker_fragments=fragments)
    return {
        "backends": backends,
        "unreachable": _missing(sess, missing),
        "include_idle": include_idle,
        "fragments": fragments,
    }


def locks(sess: Session, prereq: monitoring.Prerequisites, cluster: Cluster, options: Options) -> dict[str, Any]:
    if not prereq.has("citus_lock_waits"):
        return {"missing": ["This Citus version has no citus_lock_waits view."]}
    with monitoring.fanout(sess) as missing:
        waits = monitoring.lock_waits(sess, blocked_processes=prereq.blocked_processes)
    return {"waits": waits, "unreachable": _missing(sess, missing)}


def tenants(sess: Session, prereq: monitoring.Prerequisites, cluster: Cluster, options: Options) -> dict[str, Any]:
    if prereq.tenants_missing:
        return {"missing": prereq.tenants_missing}
    with monitoring.fanout(sess) as missing:
        rows = monitoring.tenants(sess)
    return {"tenants": rows, "unreachable": _missing(sess, missing)}


def health_checks(
    sess: Session, prereq: monitoring.Prerequisites, cluster: Cluster, options: Options
) -> dict[str, Any]:
    nodes = citus_nodes.list_nodes(sess)
    with monitoring.fanout(sess) as missing:
        facts = monitoring.health_facts(
            sess, has_cleanup=prereq.has("pg_dist_cleanup"), has_tasks=prereq.has("pg_dist_background_task")
        )
    collection = latest_finished(cluster)
    names = {n.nodeid: n.address for n in nodes}
    unreachable = [n if isinstance(n, str) else names.get(n, f"node {n}") for n in missing]
    checks = health.evaluate(prereq, nodes, facts, unreachable, collection)
    return {
        "checks": checks,
        "overall": health.overall(checks),
        "collection": collection,
        "node_timeout": settings.MONITORING_NODE_TIMEOUT_MS,
        "node_names": names,
    }


FIGURES: dict[str, Callable[[Session, monitoring.Prerequisites, Cluster, Options], dict[str, Any]]] = {
    "queries": queries,
    "activity": activity,
    "locks": locks,
    "tenants": tenants,
    "health": health_checks,
}


def compute(cluster: Cluster, tab: str, options: Options) -> dict[str, Any]:
    """One tab's figures, measured now (what the cluster offers first, then the figures)."""
    try:
        with session(cluster.target()) as sess:
            prereq = monitoring.prerequisites(sess)
            return {"prereq": prereq, "measured_at": prereq.measured_at, **FIGURES[tab](sess, prereq, cluster, options)}
    except CitusError as exc:
        return {"error": exc}


def shared_values(
    cluster: Cluster, tab: str, shared_options: str = "", options: Options | None = None
) -> dict[str, Any]:
    """The tab's figures, computed once per cluster, tab and options per interval whoever asks (pages
    and API alike), at most ``MONITORING_FANOUTS_PER_CLUSTER`` at once per cluster."""
    key = shared.key_for(cluster.pk, cluster.target().key, tab, shared_options)
    try:
        values, _ = shared.shared_figure(
            key,
            settings.MONITORING_SHARE_SECONDS,
            lambda: compute(cluster, tab, options or {}),
            group=f"cluster:{cluster.pk}",
            slots=settings.MONITORING_FANOUTS_PER_CLUSTER,
        )
    except shared.Busy as exc:
        values = {"error": CitusError(str(exc))}
    return dict(values)


def with_console_checks(cluster: Cluster, values: dict[str, Any]) -> None:
    """Add to shared health figures what is per request and costs the cluster nothing: the Celery
    worker's heartbeat, and the latest reachability probe (one story with Overview and Nodes)."""
    checks = [health.workers_check(heartbeat.status()), *values["checks"]]
    live = reach.latest(cluster.pk)
    if live is not None and not live.error:
        checks = [health.reachable_from_probe(c, live, values["node_names"]) for c in checks]
    if cluster.has_patroni:
        checks.append(patroni_check(cluster))
    values["checks"] = checks
    values["overall"] = health.overall(checks)


def patroni_check(cluster: Cluster) -> health.Check:
    """Patroni's view of every group against pg_dist_node (the HA page's shared read)."""
    from clusters import ha

    state = ha.shared(cluster)
    fix = "See the HA page: each disagreement says what it means and what to do."
    if state.topology is None:
        return health.Check("patroni", "Patroni", health.RED, state.error, fix, measured="now")
    findings = state.findings + [f for g in state.groups for f in g.findings]
    bad = [f.text for f in findings if f.level == "bad"]
    warn = [f.text for f in findings if f.level == "warn"]
    if bad or warn:
        return health.Check("patroni", "Patroni", health.RED if bad else health.AMBER, " ".join(bad + warn), fix)
    leaders = ", ".join(f"{g.label}: {g.leader}" for g in state.groups)
    return health.Check(
        "patroni", "Patroni", health.GREEN, f"Every group has a leader that pg_dist_node agrees with ({leaders})."
    )
