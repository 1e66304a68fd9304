"""The cluster switcher in the layout: one app-database query per page, no cluster query."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from citusadmin import navigation
from citusadmin.perms import Perm
from clusters.lookup import visible_clusters


def clusters(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not user.has_perm(Perm.VIEW_CLUSTER):
        return {"nav": navigation.items(request, None)}
    current_id = None
    match = getattr(request, "resolver_match", None)
    if match is not None and "cluster_id" in match.kwargs:
        current_id = match.kwargs["cluster_id"]
    elif hasattr(request, "session"):
        current_id = request.session.get("current_cluster")
    context = {
        "switcher_clusters": visible_clusters(user).only("id", "name"),
        "current_cluster_id": current_id,
        "nav": navigation.items(request, current_id),
    }
    if match is not None and "cluster_id" in match.kwargs:
        from clusters.ha import recent_changes

        cluster_id = int(match.kwargs["cluster_id"])
        # a callable: the query runs only when a full page of a Patroni-managed cluster draws the banner
        context["leader_changes"] = lambda: recent_changes(cluster_id, hours=1)
    return context
