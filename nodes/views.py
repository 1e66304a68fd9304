"""Cluster overview: versions and topology, read from the coordinator's catalogs on each request."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from citusadmin.citus import capabilities
from citusadmin.citus.connection import session
from citusadmin.citus.errors import CitusError
from citusadmin.citus.nodes import list_nodes
from clusters.lookup import cluster_for


@require_GET
def overview(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """At most three coordinator statements (capabilities when not cached, then one catalog read)."""
    cluster = cluster_for(request, cluster_id)
    context: dict[str, object] = {"cluster": cluster, "read_at": timezone.now()}
    try:
        target = cluster.target()
        caps = capabilities.get_capabilities(target)
        context["caps"] = caps
        if caps.citus_installed:
            with session(target) as sess:
                nodes = list_nodes(sess)
            context["nodes"] = nodes
            context["worker_count"] = sum(1 for n in nodes if not n.is_coordinator)
    except CitusError as exc:
        context["error"] = exc
    return render(request, "nodes/overview.html", context)
