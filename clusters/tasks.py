"""Periodic connection probe of every registered cluster (Celery beat)."""

from __future__ import annotations

from celery import shared_task

from citusadmin import request_context
from clusters.actions import probe_cluster
from clusters.models import Cluster


@shared_task(ignore_result=True, time_limit=120, soft_time_limit=100)
def probe_all_clusters() -> int:
    token = request_context.set_current(request_context.RequestContext(source="system"))
    try:
        count = 0
        for cluster in Cluster.objects.all():
            probe_cluster(cluster)
            count += 1
        return count
    finally:
        request_context.reset(token)


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def watch_patroni() -> int:
    """Each Patroni-managed cluster's group leaders, from the DCS or REST API only (no statement to the
    cluster); a change is recorded once, whichever worker sees it first."""
    from clusters import ha

    token = request_context.set_current(request_context.RequestContext(source="system"))
    try:
        changes = 0
        for cluster in Cluster.objects.exclude(patroni_etcd="", patroni_rest=""):
            if cluster.has_patroni:
                changes += ha.note_leaders(cluster)
        return changes
    finally:
        request_context.reset(token)
