"""Monitoring actions."""

from __future__ import annotations

from typing import Any

from audit.actions import audited
from citusadmin.broker import publish
from clusters.models import Cluster
from monitoring.models import Collection


def do_refresh_now(actor: Any, cluster: Cluster) -> None:
    """Queue a collection of this cluster now (the collector, not the request, talks to the nodes)."""
    from monitoring.tasks import collect_cluster

    with audited(
        actor,
        "monitoring.collect_now",
        perm="monitoring.collect_now",
        cluster=cluster,
        target=cluster.name,
        atomic=False,
    ):
        publish(collect_cluster, cluster.pk, Collection.Trigger.MANUAL)
