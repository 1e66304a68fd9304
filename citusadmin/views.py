"""Project-level views: home and a health endpoint for load balancers."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
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


def _metrics_allowed(request: HttpRequest) -> bool:
    """A matching bearer token, or a client address in CITUSADMIN_METRICS_ALLOW (addresses or networks)."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True
    if settings.METRICS_ALLOW:
        try:
            client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        for allowed in settings.METRICS_ALLOW:
            try:
                if client in ipaddress.ip_network(allowed, strict=False):
                    return True
            except ValueError:
                continue
    return False


@require_GET
@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics from the console's own database; never a statement to a cluster."""
    if not settings.METRICS_TOKEN and not settings.METRICS_ALLOW:
        raise Http404("metrics are off: set CITUSADMIN_METRICS_TOKEN or CITUSADMIN_METRICS_ALLOW")
    if not _metrics_allowed(request):
        response = HttpResponse("a metrics token or an allowed address is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="citusadmin metrics"'
        return response
    from prometheus_client import CONTENT_TYPE_LATEST

    from monitoring.metrics import exposition

    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
