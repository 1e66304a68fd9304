"""Monitoring actions."""

from __future__ import annotations

import time

from audit.actions import audited
from audit.names import Action
from citusadmin.citus import explain, monitoring
from citusadmin.citus.connection import session
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster
from monitoring.models import Alert, Collection


def do_refresh_now(actor: Actor, cluster: Cluster) -> bool:
    """Queue a collection of this cluster now (the collector, not the request, talks to the nodes).
    False when one is already queued: pressing the button again adds nothing to the queue."""
    from monitoring.tasks import queue_collection

    with audited(
        actor,
        Action.COLLECT_NOW,
        perm=Perm.COLLECT_NOW,
        cluster=cluster,
        target=cluster.name,
        atomic=False,
    ) as entry:
        queued = queue_collection(cluster.pk, Collection.Trigger.MANUAL)
        entry.result = "queued" if queued else "already queued; nothing added"
    return queued


def do_signal_backend(actor: Actor, cluster: Cluster, global_pid: int, *, terminate: bool) -> bool:
    """pg_cancel_backend / pg_terminate_backend by global pid: Citus routes it to the node that runs it.
    The audit entry records the session as the cluster reported it just before (user, node, state,
    query), never what the browser posted. Returns what PostgreSQL answered (False: no such backend
    any more, or not allowed)."""
    statement = (monitoring.terminate_sql if terminate else monitoring.cancel_sql)(global_pid)
    with audited(
        actor,
        Action.TERMINATE_SESSION if terminate else Action.CANCEL_SESSION,
        perm=Perm.TERMINATE_SESSION if terminate else Perm.CANCEL_SESSION,
        cluster=cluster,
        target=f"global pid {global_pid}",
        parameters={"global_pid": global_pid},
        atomic=False,
    ) as entry:
        with session(cluster.target()) as sess:
            with monitoring.fanout(sess):
                seen = monitoring.backend(sess, global_pid)
            if seen is None:
                entry.result = "no such backend (already ended?); nothing sent"
                return False
            entry.parameters.update(
                {
                    "user": seen.usename,
                    "node": seen.nodeid,
                    "pid": seen.pid,
                    "state": seen.state,
                    "application_name": seen.application_name,
                    "query_start": seen.query_start.isoformat() if seen.query_start else None,
                    "query": (seen.query or "")[:2000],
                }
            )
            signalled = bool(sess.scalar(statement))
        entry.result = "signalled" if signalled else "PostgreSQL refused or the backend had ended"
    return signalled


def do_reset_stats(actor: Actor, cluster: Cluster, *, tenants: bool) -> None:
    statement = monitoring.reset_tenants_sql() if tenants else monitoring.reset_statements_sql()
    with (
        audited(
            actor,
            Action.RESET_TENANT_STATS if tenants else Action.RESET_QUERY_STATS,
            perm=Perm.RESET_STATS,
            cluster=cluster,
            target=cluster.name,
            atomic=False,
        ),
        session(cluster.target()) as sess,
    ):
        sess.execute(statement)


def do_explain(
    actor: Actor, cluster: Cluster, text: str, *, analyze: bool
) -> tuple[explain.Explained, list[explain.TableFacts], explain.Checked]:
    """EXPLAIN (Viewers, Requesters) or EXPLAIN ANALYZE (Operators) of one checked statement, audited
    with the text as sent, who, which cluster and how long. A refused text is audited as refused."""
    from django.conf import settings

    perm = Perm.EXPLAIN_ANALYZE if analyze else Perm.EXPLAIN_QUERY
    action = Action.EXPLAIN_ANALYZE if analyze else Action.EXPLAIN
    with audited(actor, action, perm=perm, cluster=cluster, target=text[:300], atomic=False) as entry:
        checked = explain.check(text, analyze=analyze)
        started = time.monotonic()
        result, facts, _ = explain.explain(
            cluster.target(),
            checked,
            analyze=analyze,
            timeout_ms=settings.WORKBENCH_TIMEOUT_MS,
            application_name="citusadmin/workbench",
        )
        entry.parameters["duration_ms"] = int((time.monotonic() - started) * 1000)
        entry.result = f"{checked.kind} explained" + (" and run (rolled back)" if analyze else "")
    return result, facts, checked


def do_acknowledge_alert(actor: Actor, alert_id: int, comment: str) -> Alert:
    """Someone is on it: the alert stops asking for attention (it still resolves by itself)."""
    from django.utils import timezone

    alert = Alert.objects.select_related("cluster").get(pk=alert_id)
    with audited(
        actor,
        Action.ACKNOWLEDGE_ALERT,
        perm=Perm.ACKNOWLEDGE_ALERT,
        cluster=alert.cluster,
        target=f"{alert.rule} {alert.subject}".strip(),
        parameters={"alert": alert.pk, "comment": comment},
    ) as entry:
        changed = Alert.objects.filter(pk=alert.pk, state=Alert.State.FIRING).update(
            state=Alert.State.ACKNOWLEDGED,
            acknowledged_by=actor.get_username(),
            acknowledged_at=timezone.now(),
            ack_comment=comment,
        )
        entry.result = "acknowledged" if changed else f"nothing to do: the alert is {alert.state}"
    alert.refresh_from_db()
    return alert


def do_set_alert_rule(
    actor: Actor, cluster: Cluster, rule: str, *, enabled: bool, for_minutes: int | None, threshold: float | None
) -> str:
    """This cluster's setting for one rule; back to the defaults when it equals them (no override kept)."""
    from monitoring.alerts import RULES
    from monitoring.models import AlertOverride

    default = RULES[rule]
    if for_minutes == default.for_minutes:
        for_minutes = None
    if threshold is not None and default.threshold is not None and threshold == default.threshold:
        threshold = None
    if default.threshold is None:
        threshold = None  # the rule has no number to change
    with audited(
        actor,
        Action.SET_ALERT_RULE,
        perm=Perm.CONFIGURE_ALERTS,
        cluster=cluster,
        target=rule,
        parameters={"enabled": enabled, "for_minutes": for_minutes, "threshold": threshold},
    ) as entry:
        if enabled and for_minutes is None and threshold is None:
            AlertOverride.objects.filter(cluster=cluster, rule=rule).delete()
            entry.result = "the defaults apply"
        else:
            AlertOverride.objects.update_or_create(
                cluster=cluster,
                rule=rule,
                defaults={"enabled": enabled, "for_minutes": for_minutes, "threshold": threshold},
            )
            entry.result = "switched off" if not enabled else "changed"
        return str(entry.result)
