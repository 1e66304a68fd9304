"""Project-level views: home and a health endpoint for load balancers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from citusadmin.perms import Perm
from clusters.lookup import visible_clusters


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.has_perm(Perm.VIEW_CLUSTER):
        current = request.session.get("current_cluster")
        clusters = visible_clusters(request.user)
        cluster = clusters.filter(pk=current).first() if current else None
        cluster = cluster or clusters.order_by("name").first()
        if cluster is not None:
            return redirect("nodes:overview", cluster_id=cluster.pk)
        return redirect("clusters:list")
    if request.user.has_perm(Perm.VIEW_AUDIT):
        return redirect("audit:list")
    return redirect("clusters:list")


@require_GET
@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of the console itself (its own database). Says nothing about clusters."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "error"}, status=503)
    return JsonResponse({"status": "ok"})
