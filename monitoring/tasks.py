"""Collector tasks: beat fans out one short task per cluster; overlapping runs are skipped."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from citusadmin import request_context
from clusters.models import Cluster
from monitoring import collector
from monitoring.models import Collection


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def collect_all() -> int:
    for cluster_id in Cluster.objects.values_list("id", flat=True):
        collect_cluster.delay(cluster_id, Collection.Trigger.SCHEDULE)
    collector.prune()
    return 0


@shared_task(ignore_result=True, time_limit=300, soft_time_limit=280)
def collect_cluster(cluster_id: int, trigger: str = Collection.Trigger.SCHEDULE) -> int | None:
    token = request_context.set_current(request_context.RequestContext(source="system"))
    try:
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
