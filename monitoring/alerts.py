"""Alerts: rules over what the console already knows (the collector's snapshots, the reachability
probe, jobs, worker heartbeats), evaluated by beat every ``CITUSADMIN_ALERT_EVALUATE_SECONDS``;
never a statement to a cluster.

A condition seen for the first time makes a *pending* alert; once it has held for the rule's
minutes it *fires* and one notification per channel is queued; when it clears, a firing or
acknowledged alert *resolves* and one more notification is queued. The database holds at most one
open alert per subject and one delivery per (alert, event, channel), so a second evaluator or
deliverer never doubles anything. Deliveries are retried with exponential backoff.

Channels: e-mail to ``CITUSADMIN_ALERT_EMAIL_TO`` (when e-mail is configured) and each webhook of
``CITUSADMIN_ALERT_WEBHOOKS`` (``format=url``: ``json``, ``slack`` or ``teams``), every body signed
with HMAC-SHA256 of ``CITUSADMIN_ALERT_WEBHOOK_SECRET`` in ``X-Citusadmin-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clusters.models import Cluster
from jobs.models import Job
from monitoring.latest import cluster_states
from monitoring.models import Alert, AlertDelivery, AlertOverride

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    severity: str
    for_minutes: int
    threshold: float | None = None  # the rule's number, when it has one (percent, minutes)


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("node_unreachable", "Node unreachable", "critical", 2),
        Rule("node_inactive", "Node inactive", "warning", 5),
        Rule("metadata_not_synced", "Metadata not synced", "warning", 10),
        Rule("collection_failing", "Cluster cannot be measured", "critical", 5),
        Rule("collector_stale", "No recent measurement", "warning", 0, threshold=10),  # minutes
        Rule("cleanup_records", "Deferred drops lingering (pg_dist_cleanup)", "warning", 30),
        Rule("background_task_failing", "Citus background task failing or retrying", "warning", 0),
        Rule("skew", "Data skew between workers", "info", 60, threshold=20),  # percent above the mean
        Rule("connections_high", "Connections near the pool limit", "warning", 10, threshold=80),  # percent
        Rule("job_failed", "Job failed", "warning", 0),
        Rule("job_stalled", "Job without progress", "warning", 0, threshold=15),  # minutes
        Rule("no_worker", "No Celery worker", "critical", 1),
    )
}


@dataclass(frozen=True)
class Condition:
    cluster: Cluster | None
    rule: str
    subject: str
    message: str

    @property
    def key(self) -> str:
        return f"{self.cluster.pk if self.cluster else 'console'}:{self.rule}:{self.subject}"


def _setting(overrides: dict[tuple[int, str], AlertOverride], cluster: Cluster | None, rule: Rule) -> Rule | None:
    """The rule as this cluster has it (None: switched off there)."""
    found = overrides.get((cluster.pk, rule.name)) if cluster is not None else None
    if found is None:
        return rule
    if not found.enabled:
        return None
    return Rule(
        rule.name,
        rule.title,
        rule.severity,
        found.for_minutes if found.for_minutes is not None else rule.for_minutes,
        found.threshold if found.threshold is not None else rule.threshold,
    )


def conditions(now: Any, overrides: dict[tuple[int, str], AlertOverride]) -> Iterator[tuple[Condition, Rule]]:
    """Every condition that holds now, with the rule as its cluster has it."""
    states = cluster_states()
    clusters = [state.cluster for state in states]
    for state in states:
        cluster, latest = state.cluster, state.collection

        def rule(name: str, cluster: Cluster = cluster) -> Rule | None:
            return _setting(overrides, cluster, RULES[name])

        if latest is None:
            continue
        stale = rule("collector_stale")
        age = (state.age_seconds(now) or 0) / 60
        if stale and age > (stale.threshold or 10):
            yield (
                Condition(
                    cluster, stale.name, "", f"The latest measurement of {cluster.name} is {age:.0f} minutes old."
                ),
                stale,
            )
        failing = rule("collection_failing")
        if failing and not latest.ok:
            yield (
                Condition(
                    cluster, failing.name, "", f"The collector cannot measure {cluster.name}: {latest.error[:300]}"
                ),
                failing,
            )
        limit = state.connection_limit
        for node in state.nodes:
            reachable = state.reachable(node)
            checks = (
                (
                    "node_unreachable",
                    reachable is False,
                    f"The coordinator of {cluster.name} cannot reach {node.address}.",
                ),
                ("node_inactive", not node.isactive, f"{node.address} is inactive in {cluster.name}'s pg_dist_node."),
                ("metadata_not_synced", not node.metadatasynced, f"Metadata of {node.address} is not synced."),
            )
            for name, holds, message in checks:
                found = rule(name)
                if found and holds:
                    yield Condition(cluster, name, node.address, message), found
            high = rule("connections_high")
            if high and limit and node.connections is not None:
                percent = node.connections / limit * 100
                if percent >= (high.threshold or 80):
                    yield (
                        Condition(
                            cluster,
                            high.name,
                            node.address,
                            f"{node.connections} connections to {node.address}: {percent:.0f}% of the limit {limit}.",
                        ),
                        high,
                    )
        cleanup = rule("cleanup_records")
        if cleanup and latest.cleanup_records:
            yield (
                Condition(
                    cluster,
                    cleanup.name,
                    "",
                    f"{latest.cleanup_records} record(s) in pg_dist_cleanup on {cluster.name}.",
                ),
                cleanup,
            )
        tasks = rule("background_task_failing")
        if tasks and (latest.failed_tasks or latest.retrying_tasks):
            yield (
                Condition(
                    cluster,
                    tasks.name,
                    "",
                    f"{latest.failed_tasks or 0} background task(s) in error, "
                    f"{latest.retrying_tasks or 0} retrying on {cluster.name}.",
                ),
                tasks,
            )
        skew = rule("skew")
        if skew:
            value = state.skew_percent
            if value is not None and value > (skew.threshold or 20):
                yield (
                    Condition(
                        cluster, skew.name, "", f"The fullest worker of {cluster.name} is {value:.0f}% above the mean."
                    ),
                    skew,
                )
    by_pk = {c.pk: c for c in clusters}
    failed = _setting(overrides, None, RULES["job_failed"])
    for job in Job.objects.filter(state=Job.State.FAILED, finished_at__gte=now - timedelta(hours=24)):
        found = _setting(overrides, by_pk.get(job.cluster_id), RULES["job_failed"]) if failed else None
        if found:
            yield (
                Condition(
                    by_pk.get(job.cluster_id),
                    found.name,
                    f"job {job.pk}",
                    f"Job {job.pk} ({job.get_kind_display()} {job.target}) failed: {job.error[:300]}",
                ),
                found,
            )
    for job in Job.objects.filter(state__in=[Job.State.RUNNING, Job.State.CANCELLING]):
        found = _setting(overrides, by_pk.get(job.cluster_id), RULES["job_stalled"])
        last = job.progress_at or job.started_at
        if found and last is not None and (now - last).total_seconds() / 60 > (found.threshold or 15):
            yield (
                Condition(
                    by_pk.get(job.cluster_id),
                    found.name,
                    f"job {job.pk}",
                    f"Job {job.pk} ({job.get_kind_display()}) has shown no progress since {last:%H:%M} UTC.",
                ),
                found,
            )
    from jobs import heartbeat

    if not heartbeat.status().worker_alive:
        yield (
            Condition(None, "no_worker", "", "No Celery worker has reported: jobs and measurements wait."),
            RULES["no_worker"],
        )


# Alerts that are events rather than states: they stay until acknowledged, then resolve.
EVENT_RULES = {"job_failed"}


def evaluate(now: Any = None) -> dict[str, int]:
    """Move every alert along: new pending ones, firing ones, resolved ones. Safe to run twice at once."""
    now = now or timezone.now()
    overrides = {(o.cluster_id, o.rule): o for o in AlertOverride.objects.all()}
    seen: set[str] = set()
    counts = {"pending": 0, "fired": 0, "resolved": 0}
    for condition, rule in conditions(now, overrides):
        seen.add(condition.key)
        alert = Alert.objects.filter(key=condition.key, state__in=Alert.OPEN_STATES).first()
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        cluster=condition.cluster,
                        rule=condition.rule,
                        subject=condition.subject,
                        key=condition.key,
                        severity=rule.severity,
                        message=condition.message,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                counts["pending"] += 1
            except IntegrityError:  # another evaluator made it a moment ago
                continue
        else:
            Alert.objects.filter(pk=alert.pk).update(last_seen_at=now, message=condition.message)
        due = alert.state == Alert.State.PENDING and now - alert.first_seen_at >= timedelta(minutes=rule.for_minutes)
        pending = Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING)
        if due and pending.update(state=Alert.State.FIRING, fired_at=now):
            _queue(alert, AlertDelivery.Event.FIRING, now)
            counts["fired"] += 1
    for alert in Alert.objects.filter(state__in=Alert.OPEN_STATES).exclude(key__in=seen):
        if alert.rule in EVENT_RULES and alert.state != Alert.State.ACKNOWLEDGED:
            continue  # an event (a failed job) stays until someone acknowledges it
        counts["resolved"] += _resolve(alert, now)
    for alert in Alert.objects.filter(state=Alert.State.ACKNOWLEDGED, rule__in=EVENT_RULES):
        counts["resolved"] += _resolve(alert, now)
    return counts


def _resolve(alert: Alert, now: Any) -> int:
    if alert.state == Alert.State.PENDING:
        Alert.objects.filter(pk=alert.pk, state=Alert.State.PENDING).delete()  # never fired: nothing to tell
        return 0
    if Alert.objects.filter(pk=alert.pk, state__in=[Alert.State.FIRING, Alert.State.ACKNOWLEDGED]).update(
        state=Alert.State.RESOLVED, resolved_at=now
    ):
        _queue(alert, AlertDelivery.Event.RESOLVED, now)
        return 1
    return 0


def channels() -> list[str]:
    out = [f"webhook:{i}" for i, _ in enumerate(settings.ALERT_WEBHOOKS)]
    if settings.NOTIFY_BY_EMAIL:
        out += [f"email:{address}" for address in settings.ALERT_EMAIL_TO]
    return out


def _queue(alert: Alert, event: str, now: Any) -> None:
    for channel in channels():
        try:
            with transaction.atomic():
                AlertDelivery.objects.create(alert=alert, event=event, channel=channel, next_attempt_at=now)
        except IntegrityError:
            pass  # already queued by another evaluator


# --- delivery ---------------------------------------------------------------------------------------

MAX_ATTEMPTS = 8


def body(alert: Alert, event: str, fmt: str) -> dict[str, Any]:
    cluster = alert.cluster.name if alert.cluster else "console"
    title = RULES[alert.rule].title if alert.rule in RULES else alert.rule
    verb = "FIRING" if event == AlertDelivery.Event.FIRING else "RESOLVED"
    text = f"[{verb}] {cluster}: {title}" + (f" ({alert.subject})" if alert.subject else "") + f" — {alert.message}"
    if fmt == "slack":
        return {"text": text}
    if fmt == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": text[:120],
            "text": text,
        }
    return {
        "event": event,
        "alert": alert.pk,
        "rule": alert.rule,
        "title": title,
        "severity": alert.severity,
        "cluster": cluster,
        "subject": alert.subject,
        "message": alert.message,
        "state": alert.state,
        "first_seen_at": alert.first_seen_at.isoformat(),
        "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "text": text,
    }


def signature(payload: bytes) -> str:
    return "sha256=" + hmac.new(settings.ALERT_WEBHOOK_SECRET.encode(), payload, hashlib.sha256).hexdigest()


def _send(delivery: AlertDelivery) -> None:
    alert = delivery.alert
    kind, _, target = delivery.channel.partition(":")
    if kind == "webhook":
        fmt, url = settings.ALERT_WEBHOOKS[int(target)]
        payload = json.dumps(body(alert, delivery.event, fmt)).encode()
        request = urllib.request.Request(  # noqa: S310 - an operator-set http(s) URL (checked in settings)
            url,
            data=payload,
            method="POST",
            headers={"Content-Type": "application/json", "X-Citusadmin-Signature": signature(payload)},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - an operator-set URL
            if response.status >= 300:
                raise OSError(f"HTTP {response.status}")
    elif kind == "email":
        from django.core.mail import send_mail

        text = body(alert, delivery.event, "json")["text"]
        send_mail(f"[citusadmin] {text[:120]}", text, None, [target], fail_silently=False)


def deliver(now: Any = None) -> dict[str, int]:
    """Send what is due; a delivery is claimed first, so two deliverers never send it twice."""
    now = now or timezone.now()
    counts = {"sent": 0, "failed": 0}
    due = AlertDelivery.objects.filter(sent_at__isnull=True, gave_up=False, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    for delivery in due.select_related("alert", "alert__cluster")[:100]:
        claimed = (
            AlertDelivery.objects.filter(pk=delivery.pk, sent_at__isnull=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + timedelta(seconds=60), attempts=delivery.attempts + 1)
        )
        if not claimed:
            continue
        try:
            _send(delivery)
        except Exception as exc:  # any failure of the receiver: retried with backoff
            attempts = delivery.attempts + 1
            backoff = min(2**attempts * settings.ALERT_RETRY_BASE_SECONDS, 3600)
            AlertDelivery.objects.filter(pk=delivery.pk).update(
                last_error=f"{type(exc).__name__}: {exc}"[:500],
                next_attempt_at=now + timedelta(seconds=backoff),
                claimed_until=None,
                gave_up=attempts >= MAX_ATTEMPTS,
            )
            logger.warning("alert delivery %s failed (attempt %s): %s", delivery.pk, attempts, exc)
            counts["failed"] += 1
        else:
            AlertDelivery.objects.filter(pk=delivery.pk).update(
                sent_at=timezone.now(), claimed_until=None, last_error=""
            )
            counts["sent"] += 1
    return counts
