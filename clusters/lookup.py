"""Looking up a cluster for a request: the one place that decides who may see which cluster."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from citusadmin.perms import Perm
from clusters.models import Cluster, ClusterAccess


def sees_all_clusters(user: Any) -> bool:
    return bool(user.has_perm(Perm.VIEW_ALL_CLUSTERS))


def visible_clusters(user: Any) -> QuerySet[Cluster]:
    """Every cluster for staff roles; only the clusters granted by name to anyone else (a Requester)."""
    clusters = Cluster.objects.all()
    if not user.has_perm(Perm.VIEW_CLUSTER):
        return clusters.none()
    if sees_all_clusters(user):
        return clusters
    return clusters.filter(grants__user=user)


def may_see(user: Any, cluster_id: int) -> bool:
    if sees_all_clusters(user):
        return True
    return ClusterAccess.objects.filter(user_id=user.pk, cluster_id=cluster_id).exists()


def cluster_for(request: HttpRequest, cluster_id: int) -> Cluster:
    """The cluster, if this user may view it (403 otherwise, 404 when there is none)."""
    if not request.user.has_perm(Perm.VIEW_CLUSTER):
        raise PermissionDenied("You do not have the permission clusters.view_cluster.")
    cluster = get_object_or_404(Cluster.objects.select_related("probe"), pk=cluster_id)
    if not may_see(request.user, cluster.pk):
        # the same answer as for a cluster that does not exist: its name is not disclosed either
        raise Http404("no such cluster")
    if hasattr(request, "session") and request.session.get("current_cluster") != cluster.pk:
        request.session["current_cluster"] = cluster.pk  # written only on a change of cluster
    return cluster
