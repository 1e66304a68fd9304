"""Jobs: list, live progress (viewers read the app database only), rebalance and drain."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citusadmin.broker import BrokerUnavailable
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus import rebalance
from citusadmin.citus.errors import CitusError
from citusadmin.http import HtmxHttpRequest
from citusadmin.pagination import keyset_page
from citusadmin.params import int_param
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters.lookup import cluster_for, may_see, sees_all_clusters, visible_clusters
from clusters.models import Cluster
from jobs import actions, heartbeat, kinds, preview, reads
from jobs.forms import JobFilterForm, RebalanceForm
from jobs.models import Job, JobLogEntry
from nodes import reads as node_reads

PAGE_SIZE = 50


@require_GET
@require_perm(Perm.VIEW_JOB)
def job_list(request: HttpRequest) -> HttpResponse:
    visible = visible_clusters(request.user)
    jobs = Job.objects.select_related("cluster").order_by("-id")
    if not sees_all_clusters(request.user):
        jobs = jobs.filter(cluster__in=visible)
    form = JobFilterForm(
        request,
        {
            "cluster": [(c.pk, c.name) for c in visible.only("id", "name")],
            "kind": kinds.choices(),
            "state": list(Job.State.choices),
        },
    )
    if form.value("cluster") is not None:
        jobs = jobs.filter(cluster_id=form.value("cluster"))
    if form.value("kind"):
        jobs = jobs.filter(kind=form.value("kind"))
    if form.value("state"):
        jobs = jobs.filter(state=form.value("state"))
    if form.value("actor"):
        jobs = jobs.filter(actor_name=form.value("actor"))
    page, next_before = keyset_page(jobs, request.GET.get("before", ""), PAGE_SIZE)
    return render(
        request,
        "jobs/list.html",
        {
            "jobs": page,
            "next_before": next_before,
            "form": form,
        },
    )


def _job_for(request: HttpRequest, job_id: int) -> Job:
    if not request.user.has_perm(Perm.VIEW_JOB):
        raise PermissionDenied("You do not have the permission jobs.view_job.")
    job = get_object_or_404(Job.objects.select_related("cluster"), pk=job_id)
    if not may_see(request.user, job.cluster_id):
        raise Http404("no such job")
    return job


@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    log = list(job.log.order_by("id"))
    context = {"job": job, "log": log, "after": log[-1].pk if log else 0, "no_worker": _no_worker(job)}
    return render(request, "jobs/detail.html", context)


def _no_worker(job: Job) -> bool:
    """A job that nothing runs, and no worker alive to run it (one query, only for a stalled job)."""
    return job.stalled and not heartbeat.status().worker_alive


@require_GET
def job_progress(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """The polled fragment: the job row and the log lines after ``?after=``. No cluster query."""
    job = _job_for(request, job_id)
    after = int_param(request.GET, "after", 0) or 0
    new_lines = list(JobLogEntry.objects.filter(job=job, id__gt=after).order_by("id"))
    last = new_lines[-1].pk if new_lines else after
    context = {"job": job, "new_lines": new_lines, "after": last, "no_worker": _no_worker(job)}
    response = render(request, "jobs/detail.html#progress", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@require_perm(Perm.CANCEL_JOB)
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_for(request, job_id)
    try:
        actions.do_cancel_job(request.user, job)
    except CitusError as exc:
        messages.error(request, f"Could not cancel: {exc.user_message} {exc.primary}")
    else:
        messages.info(request, "Cancel requested. Finished moves are kept; the job page shows what is undone.")
    return redirect("jobs:detail", job_id=job.pk)


@require_http_methods(["GET", "POST"])
@require_perm(Perm.START_REBALANCE)
def rebalance_page(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Options, then a preview of Citus's plan (moves, bytes, balance before/after), then Start."""
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster}
    try:
        inputs = reads.rebalance_inputs(cluster)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "jobs/rebalance.html", context)
    caps, strategies, tables, nodes = inputs.caps, inputs.strategies, inputs.tables, inputs.nodes
    context.update(caps=caps, strategies=strategies)
    form = RebalanceForm(
        request.POST or None,
        strategies=[s.name for s in strategies],
        tables=tables,
        background=caps.rebalance_status,
    )
    context["form"] = form
    active = Job.objects.filter(cluster=cluster, lock="rebalance", state__in=Job.ACTIVE_STATES).first()
    context["active"] = active
    if request.method == "GET" or not form.is_valid():
        return render(request, "jobs/rebalance.html", context)
    kind_name, params = form.kind_and_params()
    if request.POST.get("confirm") != "yes":
        key = preview.plan_key(cluster, params)
        result = preview.just_computed(key) or preview.try_inline(cluster, params, key)
        if result is None:  # Citus takes longer: a worker computes it, the page polls for it
            try:
                preview.queue(cluster, params, key)
            except BrokerUnavailable as exc:
                messages.error(request, f"{exc.user_message} {exc.hint}")
                return render(request, "jobs/rebalance.html", context)
            context.update(computing=key, computing_since=timezone.now())
            return render(request, "jobs/rebalance.html", context)
        context.update(_plan_context(cluster, nodes, result))
        return render(request, "jobs/rebalance.html", context)
    kind = kinds.KINDS[kind_name]
    try:
        job = actions.do_start_job(request.user, cluster, kind, params, target=params.get("relation") or cluster.name)
    except actions.JobAlreadyRunning as exc:
        messages.error(request, exc.user_message)
        return redirect("jobs:detail", job_id=exc.job.pk) if exc.job else redirect("jobs:list")
    except (CitusError, BrokerUnavailable) as exc:
        messages.error(request, f"{exc.user_message} {getattr(exc, 'hint', '') or ''}")
        return render(request, "jobs/rebalance.html", context)
    return redirect("jobs:detail", job_id=job.pk)


def _plan_context(cluster: Cluster, nodes: list[citus_nodes.Node], result: preview.PlanResult) -> dict[str, Any]:
    """What the preview shows for a computed plan: moves, the reference copies Citus makes first,
    placements per node before and after, the exact statement Start sends, and when it was computed."""
    if result.error is not None:
        return {"plan_error": result.error}
    params, moves = result.params, result.moves
    one_table = bool(params.get("relation"))
    per_table = None
    if one_table:
        try:
            per_table = reads.table_placements(cluster, params["relation"])
        except CitusError as exc:
            return {"plan_error": exc}
    statement = kinds.KINDS["rebalance_table" if one_table else "rebalance"].statement(params)
    reference_copies = [n for n in nodes if n.isactive and n.missing_reference_placements] if not one_table else []
    return {
        "moves": moves,
        "reference_copies": reference_copies,
        "reference_copy_count": sum(n.missing_reference_placements for n in reference_copies),
        "preview": statement.as_string(),
        "balance": _balance(nodes, moves, (params["relation"], per_table) if per_table is not None else None),
        "total_bytes": sum(m.shard_size or 0 for m in moves),
        "plan_computed_at": result.computed_at,
    }


@require_GET
@require_perm(Perm.START_REBALANCE)
def rebalance_plan(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    """The polled preview: the plan once a worker has computed it (then polling stops), else "computing"."""
    cluster = cluster_for(request, cluster_id)
    key = request.GET.get("key", "")
    result = preview.cached(key) if key.startswith("fig:") else None
    context: dict[str, Any] = {"cluster": cluster, "computing": key}
    if result is not None and result.cluster_id == cluster.pk:
        try:
            nodes = node_reads.nodes(cluster)
        except CitusError as exc:
            context["plan_error"] = exc
        else:
            context.update(_plan_context(cluster, nodes, result), computing="")
    response = render(request, "jobs/rebalance.html#plan", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _balance(
    nodes: list[citus_nodes.Node],
    moves: list[rebalance.PlannedMove],
    table: tuple[str, dict[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """Placements per node before and after the plan. For one table (``table``: its name and its
    placements per node) only that table's placements and moves count, on the nodes that hold it or
    may receive it; otherwise every placement, with the reference-table copies Citus makes first."""
    rows: dict[str, dict[str, Any]]
    if table is not None:
        name, per_node = table
        rows = {
            n.address: {"node": n.address, "before": per_node.get(n.address, 0), "after": per_node.get(n.address, 0)}
            for n in nodes
            if n.isactive and (n.shouldhaveshards or per_node.get(n.address))
        }
        moves = [m for m in moves if m.table_name == name]
    else:
        rows = {
            n.address: {"node": n.address, "before": n.placements, "after": n.placements}
            for n in nodes
            if n.shouldhaveshards or n.placements
        }
    for m in moves:
        if m.source in rows:
            rows[m.source]["after"] -= 1
        if m.target in rows:
            rows[m.target]["after"] += 1
    for n in nodes:  # Citus first copies the reference tables to active nodes that lack them
        if table is None and n.isactive and n.missing_reference_placements and n.address in rows:
            rows[n.address]["after"] += n.missing_reference_placements
    top = max([r["before"] for r in rows.values()] + [r["after"] for r in rows.values()] + [1])
    for r in rows.values():
        r["max"] = top
    return list(rows.values())


def _removing(request: HttpRequest) -> bool:
    return request.GET.get("remove") == "1" or request.POST.get("remove") == "1"


@require_http_methods(["GET", "POST"])
@require_perm(lambda request, **_: _drain_kind(_removing(request)).perm)
def drain_node(request: HttpRequest, cluster_id: int, nodeid: int) -> HttpResponse:
    remove = _removing(request)
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster, "remove": remove}
    try:
        nodes = node_reads.nodes(cluster)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "jobs/drain.html", context)
    node = next((n for n in nodes if n.nodeid == nodeid), None)
    if node is None:
        messages.error(request, f"There is no node {nodeid} (any more).")
        return redirect("nodes:list", cluster_id=cluster.pk)
    others = kinds.drain.other_marked_nodes(nodes, nodeid)
    targets = kinds.drain.targets(nodes, nodeid)
    transfer_mode = request.POST.get("transfer_mode") or None
    params = kinds.drain.DrainParams(nodeid=node.nodeid, transfer_mode=transfer_mode)
    context.update(node=node, others=others, targets=targets, steps=_drain_kind(remove).steps(node, params))
    if request.method == "POST" and request.POST.get("confirm") == "yes" and not others and targets:
        kind = _drain_kind(remove)
        try:
            job = actions.do_start_job(
                request.user,
                cluster,
                kind,
                params,
                target=node.address,
            )
        except actions.JobAlreadyRunning as exc:
            messages.error(request, exc.user_message)
            return redirect("jobs:detail", job_id=exc.job.pk) if exc.job else redirect("jobs:list")
        except (CitusError, BrokerUnavailable) as exc:
            messages.error(request, f"{exc.user_message} {getattr(exc, 'hint', '') or ''}")
            return render(request, "jobs/drain.html", context)
        return redirect("jobs:detail", job_id=job.pk)
    return render(request, "jobs/drain.html", context)


def _drain_kind(remove: bool) -> kinds.drain.DrainNode:
    return kinds.drain.DrainAndRemove() if remove else kinds.drain.DrainNode()
