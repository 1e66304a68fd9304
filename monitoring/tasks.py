"""Collector tasks: beat fans out one short task per cluster; overlapping runs are skipped."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from citusadmin import request_context
from citusadmin.broker import BrokerUnavailable, publish
from clusters.models import Cluster
from monitoring import collector
from monitoring.models import Collection, PendingCollection


def claim_pending(cluster_id: int) -> bool:
    """Mark a collection of this cluster as queued; False when one already is (queue nothing more)."""
    now = timezone.now()
    lost = now - timedelta(seconds=settings.COLLECTOR_INTERVAL * 5)
    if PendingCollection.objects.filter(cluster_id=cluster_id, queued_at__lt=lost).update(queued_at=now):
        return True
    try:
        with transaction.atomic():
            PendingCollection.objects.create(cluster_id=cluster_id, queued_at=now)
    except IntegrityError:
        return False
    return True


def queue_collection(cluster_id: int, trigger: str) -> bool:
    """Queue one collection unless one is already pending. True when a task was published."""
    if not claim_pending(cluster_id):
        return False
    try:
        publish(collect_cluster, cluster_id, trigger)
    except BrokerUnavailable:
        PendingCollection.objects.filter(cluster_id=cluster_id).delete()
        raise
    return True


@shared_task(ignore_result=True, time_limit=30, soft_time_limit=25)
def probe_reachability() -> int:
    """Every few seconds: is each node of each cluster reachable now (monitoring.reach)."""
    from monitoring import reach

    token = request_context.set_current(request_context.RequestContext(source="system"))
    try:
        ids = list(Cluster.objects.values_list("id", flat=True))
        for cluster_id in ids:
            reach.probe(cluster_id)
        return len(ids)
    finally:
        request_context.reset(token)


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def collect_all() -> int:
    queued = 0
    for cluster_id in Cluster.objects.values_list("id", flat=True):
        queued += queue_collection(cluster_id, Collection.Trigger.SCHEDULE)
    collector.prune()
    return queued


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=280)
def collect_cluster(cluster_id: int, trigger: str = Collection.Trigger.SCHEDULE) -> int | None:
    token = request_context.set_current(request_context.RequestContext(source="system"))
    try:
        PendingCollection.objects.filter(cluster_id=cluster_id).delete()
        cluster = Cluster.objects.filter(pk=cluster_id).first()
        if cluster is None:
            return None
        # Skip when a collection of this cluster is already running (beat and "refresh now" racing).
        running_since = timezone.now() - timedelta(seconds=settings.COLLECTOR_INTERVAL * 2)
        if Collection.objects.filter(cluster=cluster, finished=False, started_at__gte=running_since).exists():
            return None
        return collector.collect(cluster, trigger=trigger).pk
    finally:
        request_context.reset(token)


@shared_task(acks_late=False, ignore_result=True, time_limit=120, soft_time_limit=110)
def alerts() -> dict[str, int]:
    """Evaluate the alert rules, then send what is due (both safe to run twice at once)."""
    from monitoring import alerts as engine

    return {**engine.evaluate(), **engine.deliver()}
