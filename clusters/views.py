"""Cluster registration, connection test and extension management."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citusadmin.citus import capabilities
from citusadmin.citus.errors import CitusError
from citusadmin.http import HtmxHttpRequest
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters import actions
from clusters.forms import ClusterForm
from clusters.lookup import cluster_for, visible_clusters


@require_GET
@require_perm(Perm.VIEW_CLUSTER)
def cluster_list(request: HttpRequest) -> HttpResponse:
    clusters = visible_clusters(request.user).select_related("probe").order_by("name")
    return render(request, "clusters/list.html", {"clusters": clusters})


@require_http_methods(["GET", "POST"])
@require_perm(Perm.MANAGE_CLUSTER)
def cluster_add(request: HttpRequest) -> HttpResponse:
    form = ClusterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("password", "clear_password")}
        cluster = actions.do_register_cluster(request.user, fields, form.cleaned_data["password"])
        messages.success(request, f"Cluster {cluster.name} registered. Test its connection below.")
        return redirect("clusters:detail", cluster_id=cluster.pk)
    return render(request, "clusters/form.html", {"form": form, "cluster": None, "sections": form.sections()})


@require_http_methods(["GET", "POST"])
@require_perm(Perm.MANAGE_CLUSTER)
def cluster_edit(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    form = ClusterForm(request.POST or None, instance=cluster)
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k not in ("password", "clear_password")}
        actions.do_update_cluster(
            request.user, cluster, fields, form.cleaned_data["password"], form.cleaned_data["clear_password"]
        )
        messages.success(request, f"Cluster {cluster.name} updated.")
        return redirect("clusters:detail", cluster_id=cluster.pk)
    context = {"form": form, "cluster": cluster, "sections": form.sections(has_password=cluster.has_password)}
    return render(request, "clusters/form.html", context)


@require_http_methods(["GET", "POST"])
@require_perm(Perm.MANAGE_CLUSTER)
def cluster_delete(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    if request.method == "POST":
        if request.POST.get("confirm_name") != cluster.name:
            messages.error(request, "Type the cluster's name exactly to confirm.")
            return render(request, "clusters/delete.html", {"cluster": cluster}, status=400)
        name = cluster.name
        actions.do_delete_cluster(request.user, cluster)
        messages.success(request, f"Cluster {name} removed from the console. Nothing was changed on the cluster.")
        return redirect("clusters:list")
    return render(request, "clusters/delete.html", {"cluster": cluster})


@require_GET
def cluster_detail(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    caps, caps_error = None, None
    try:
        caps = capabilities.get_capabilities(cluster.target())
    except CitusError as exc:
        caps_error = exc
    return render(request, "clusters/detail.html", {"cluster": cluster, "caps": caps, "caps_error": caps_error})


@require_POST
@require_perm(Perm.TEST_CONNECTION)
def cluster_test(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    report, error = None, None
    try:
        report = actions.do_test_connection(request.user, cluster)
    except CitusError as exc:
        error = exc
    context: dict[str, Any] = {"cluster": cluster, "report": report, "error": error}
    if cluster.has_patroni:  # Patroni's version, scope and groups, or why it cannot be read
        from clusters import ha

        context["ha"] = ha.read(cluster)
    if request.htmx:
        response = render(request, "clusters/detail.html#test-result", context)
        patch_vary_headers(response, ["HX-Request"])
        return response
    caps = report.capabilities if report else None
    return render(request, "clusters/detail.html", {**context, "caps": caps, "caps_error": None})


@require_POST
@require_perm(Perm.CREATE_EXTENSION)
def cluster_create_extension(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    try:
        created = actions.do_create_extension(request.user, cluster)
    except CitusError as exc:
        messages.error(
            request,
            f"Could not create the citus extension: {exc.user_message}"
            + (f" — {exc.primary}" if exc.primary and exc.primary not in exc.user_message else ""),
        )
    else:
        messages.success(
            request,
            "The citus extension was created." if created else "The citus extension already existed; nothing changed.",
        )
    return redirect("clusters:detail", cluster_id=cluster.pk)
