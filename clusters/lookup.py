"""Looking up a cluster for a request: the one place that decides who may see which cluster."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from clusters.models import Cluster


def cluster_for(request: HttpRequest, cluster_id: int) -> Cluster:
    """The cluster, if this user may view it (403 otherwise, 404 when there is none)."""
    if not request.user.has_perm("clusters.view_cluster"):
        raise PermissionDenied("You do not have the permission clusters.view_cluster.")
    cluster = get_object_or_404(Cluster.objects.select_related("probe"), pk=cluster_id)
    if hasattr(request, "session") and request.session.get("current_cluster") != cluster.pk:
        request.session["current_cluster"] = cluster.pk  # written only on a change of cluster
    return cluster
