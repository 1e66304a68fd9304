"""Self-service: ask for a change, follow it; Admins other than the requester decide."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citusadmin.broker import BrokerUnavailable
from citusadmin.citus.errors import CitusError
from citusadmin.pagination import keyset_page
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters.lookup import cluster_for
from selfservice import actions, plans, reads
from selfservice.forms import DecisionForm, RequestFilterForm, RequestForm, split_qualified
from selfservice.models import ChangeRequest, Notification
from tables import reads as table_reads

PAGE_SIZE = 50


@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    """Deciders see every request on the clusters they see; everyone else their own."""
    changes = reads.visible_requests(request.user)
    form = RequestFilterForm(request)
    if form.value("state"):
        changes = changes.filter(state=form.value("state"))
    page, next_before = keyset_page(changes, request.GET.get("before", ""), PAGE_SIZE)
    return render(
        request,
        "selfservice/list.html",
        {"changes": page, "next_before": next_before, "form": form},
    )


def _change_for(request: HttpRequest, request_id: int) -> ChangeRequest:
    return reads.request_for(request.user, request_id)


@require_GET
@require_perm(Perm.REQUEST_CHANGE)
def request_new_moved(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """The page's address before every cluster page moved under /c/<id>/ (bookmarks keep working)."""
    target = reverse("cluster_requests:new", kwargs={"cluster_id": cluster_id})
    query = request.GET.urlencode()
    return HttpResponsePermanentRedirect(target + (f"?{query}" if query else ""))


@require_http_methods(["GET", "POST"])
@require_perm(Perm.REQUEST_CHANGE)
def request_new(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Form, then the pre-check's verdict and the exact SQL, then Submit (saved even if it fails)."""
    cluster = cluster_for(request, cluster_id)
    initial = {
        "kind": request.GET.get("kind", ChangeRequest.Kind.DISTRIBUTE),
        "table": request.GET.get("table", ""),
        "group": request.GET.get("group", ""),
        "candidate": request.GET.get("candidate", ""),
    }
    form = RequestForm(request.POST or None, initial=initial)
    context: dict[str, Any] = {"cluster": cluster, "form": form, "columns": _columns(cluster, request)}
    if request.method == "GET" or not form.is_valid():
        return render(request, "selfservice/new.html", context)
    kind, params = form.cleaned_data["kind"], form.parameters()
    try:
        plan = plans.plan(cluster, kind, params)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "selfservice/new.html", context)
    context.update(plan=plan, checked_at=timezone.now())
    if request.POST.get("confirm") != "yes":
        return render(request, "selfservice/new.html", context)
    try:
        change = actions.do_submit(request.user, cluster, kind, params, form.cleaned_data["reason"], plan)
    except CitusError as exc:
        messages.error(request, exc.page_text())
        return render(request, "selfservice/new.html", context)
    if plan.ok:
        messages.success(request, f"Request {change.pk} sent; the Admins are notified.")
    else:
        messages.warning(
            request,
            f"Request {change.pk} saved, but its pre-check fails: it cannot be approved until the check passes.",
        )
    return redirect("selfservice:detail", request_id=change.pk)


def _columns(cluster: Any, request: HttpRequest) -> list[tuple[str, str]]:
    """Column suggestions for a table named in the query string (one catalog statement)."""
    parsed = split_qualified((request.GET.get("table") or request.POST.get("table") or "").strip())
    if parsed is None:
        return []
    schema, name = parsed
    try:
        return table_reads.table_columns(cluster, schema, name)
    except CitusError:
        return []


@require_GET
def request_detail(request: HttpRequest, request_id: int) -> HttpResponse:
    change = _change_for(request, request_id)
    may_decide = (
        request.user.has_perm(Perm.DECIDE_CHANGE)
        and change.requested_by_id != request.user.pk
        and change.state == ChangeRequest.State.PENDING
    )
    return render(
        request,
        "selfservice/detail.html",
        {"change": change, "may_decide": may_decide, "form": DecisionForm(), "cluster": change.cluster},
    )


@require_POST
def request_recheck(request: HttpRequest, request_id: int) -> HttpResponse:
    change = _change_for(request, request_id)
    if change.state != ChangeRequest.State.PENDING:
        messages.error(request, f"Request {change.pk} is {change.get_state_display()}: nothing to check.")
        return redirect("selfservice:detail", request_id=change.pk)
    try:
        plan = actions.do_recheck(request.user, change)
    except CitusError as exc:
        messages.error(request, f"Could not check: {exc.page_text()}")
    else:
        if plan.ok:
            messages.success(request, "The pre-check passes on the cluster as it is now.")
        else:
            messages.warning(request, "The pre-check still fails; see below.")
    return redirect("selfservice:detail", request_id=change.pk)


def _text(exc: CitusError | BrokerUnavailable) -> str:
    if isinstance(exc, BrokerUnavailable):
        return f"{exc.user_message} {exc.hint}"
    return exc.page_text()


@require_POST
@require_perm(Perm.DECIDE_CHANGE)
def request_decide(request: HttpRequest, request_id: int) -> HttpResponse:
    change = _change_for(request, request_id)
    form = DecisionForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    approve = request.POST.get("decision") == "approve"
    try:
        if approve:
            change = actions.do_approve(request.user, change, comment)
        else:
            change = actions.do_reject(request.user, change, comment)
    except (CitusError, BrokerUnavailable) as exc:
        messages.error(request, f"Not {'approved' if approve else 'rejected'}: {_text(exc)}")
        return redirect("selfservice:detail", request_id=change.pk)
    if approve and change.job_id:
        messages.success(request, f"Approved: job {change.job_id} started.")
        return redirect("jobs:detail", job_id=change.job_id)
    messages.info(request, f"Request {change.pk} rejected; the requester is notified.")
    return redirect("selfservice:detail", request_id=change.pk)


@require_POST
@require_perm(Perm.REQUEST_CHANGE)
def request_withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    change = _change_for(request, request_id)
    try:
        actions.do_withdraw(request.user, change)
    except CitusError as exc:
        messages.error(request, exc.page_text())
    else:
        messages.info(request, f"Request {change.pk} withdrawn.")
    return redirect("selfservice:detail", request_id=change.pk)


@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest) -> HttpResponse:
    """The signed-in user's notifications; POST marks them all read."""
    user: Any = request.user
    mine = Notification.objects.filter(user=user)
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("selfservice:inbox")
    page, next_before = keyset_page(mine, request.GET.get("before", ""), PAGE_SIZE)
    return render(request, "selfservice/inbox.html", {"notes": page, "next_before": next_before})
