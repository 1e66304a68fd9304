"""The HA page of a Patroni-managed cluster, and its operations (previewed, confirmed, audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from citusadmin.broker import BrokerUnavailable
from citusadmin.citus import patroni
from citusadmin.citus.errors import CitusError
from citusadmin.http import HtmxHttpRequest
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters import ha, ha_actions
from clusters.lookup import cluster_for
from jobs import kinds
from jobs.actions import JobAlreadyRunning, do_start_job
from jobs.kinds.switchover import refusal


class SwitchoverForm(forms.Form):
    candidate = forms.CharField(max_length=100)
    scheduled_at = forms.DateTimeField(
        required=False, label="At (UTC, optional)", help_text="Empty: now. Patroni runs a scheduled one itself."
    )

    def clean_scheduled_at(self) -> datetime | None:
        value = self.cleaned_data.get("scheduled_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Give a time in the future, or leave it empty for now.")
        return value


@require_GET
@require_perm(Perm.VIEW_CLUSTER)
def ha_page(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster, "refresh": settings.PATRONI_SHARE_SECONDS or 3}
    if cluster.has_patroni:
        context["ha"] = ha.shared(cluster)
        context["lag_limit"] = settings.PATRONI_LAG_WARN_BYTES
    template = "clusters/ha.html" + ("#groups" if request.htmx else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _group(cluster: Any, group: int) -> tuple[ha.HaState, patroni.Group]:
    state = ha.read(cluster)  # fresh: an operation is previewed on what Patroni says now
    if state.topology is None:
        raise CitusError(state.error or "Patroni cannot be read.")
    found = state.topology.group(group)
    if found is None:
        raise Http404(f"Patroni manages no group {group} in this cluster.")
    return state, found


@require_http_methods(["GET", "POST"])
@require_perm(Perm.PATRONI_SWITCHOVER)
def switchover(request: HttpRequest, cluster_id: int, group: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster, "op": "switchover"}
    try:
        _, found = _group(cluster, group)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "clusters/ha_operation.html", context)
    form = SwitchoverForm(request.POST or None, initial={"candidate": request.GET.get("candidate", "")})
    candidates = [m for m in found.members if not m.is_leader]
    context.update(group=found, form=form, candidates=candidates)
    if request.method == "GET" or not form.is_valid():
        return render(request, "clusters/ha_operation.html", context)
    candidate, at = form.cleaned_data["candidate"], form.cleaned_data["scheduled_at"]
    state = patroni.Topology("", "", [found], "", timezone.now())
    why = refusal(state, group, candidate, settings.PATRONI_LAG_WARN_BYTES)
    context.update(refusal=why, candidate=candidate)
    if why is None:
        context["preview"] = str(patroni.switchover_call(found, candidate, at))
    if request.POST.get("confirm") != "yes" or why:
        return render(request, "clusters/ha_operation.html", context)
    params = {"group": group, "candidate": candidate, "scheduled_at": at.isoformat() if at else None}
    try:
        job = do_start_job(request.user, cluster, kinds.KINDS["patroni_switchover"], params, target=f"group {group}")
    except (JobAlreadyRunning, BrokerUnavailable, CitusError) as exc:
        messages.error(request, exc.user_message)
        return render(request, "clusters/ha_operation.html", context)
    return redirect("jobs:detail", job_id=job.pk)


@require_http_methods(["GET", "POST"])
@require_perm(Perm.PATRONI_MANAGE)
def member_operation(request: HttpRequest, cluster_id: int, group: int, op: str) -> HttpResponse:
    """restart / reinitialize a member (``?member=``), pause / resume automatic failover of a group."""
    if op not in ha_actions.ACTIONS:
        raise Http404("no such operation")
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster, "op": op}
    try:
        _, found = _group(cluster, group)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "clusters/ha_operation.html", context)
    context["group"] = found
    name = (request.POST.get("member") or request.GET.get("member") or "").strip()[:100]
    call, why, target = ha_actions.plan(found, op, name)
    context["member"] = next((m for m in found.members if m.name == name), None)
    context.update(preview=str(call) if call and not why else None, refusal=why, member_name=name)
    if request.method == "POST" and request.POST.get("confirm") == "yes" and call and not why:
        try:
            answer = ha_actions.do_patroni_call(request.user, cluster, op, call, target)
        except CitusError as exc:
            messages.error(request, exc.user_message)
            return render(request, "clusters/ha_operation.html", context)
        messages.success(request, f"Patroni: {answer or 'accepted'}")
        return redirect("ha:page", cluster_id=cluster.pk)
    return render(request, "clusters/ha_operation.html", context)
