"""Monitoring: queries, distributed activity, lock waits, tenants, health and history.

Each live page sends a fixed number of statements to the coordinator: one for what the cluster offers
(``prerequisites``) and one for the figures; those that reach every node run inside ``fanout`` (a short
timeout, and the unreachable nodes named). The panel refreshes itself with htmx while the page is
open (pausable). History reads only the collector's snapshots.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citusadmin.citus.errors import CitusError
from citusadmin.http import HtmxHttpRequest
from citusadmin.pagination import keyset_page
from citusadmin.params import choice_param, int_param, parse_int
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters.lookup import cluster_for, may_see, sees_all_clusters, visible_clusters
from clusters.models import Cluster
from monitoring import actions, charts, figures
from monitoring import alerts as alerts_engine
from monitoring import workbench as workbench_reading
from monitoring.forms import AlertRuleForm
from monitoring.models import Alert, AlertDelivery, AlertOverride, SavedExplain

# The query-string options that change a figure (anything else, such as htmx's, does not).
SHARED_OPTIONS = ("order", "idle", "fragments")

TABS = [
    ("health", "Health"),
    ("queries", "Queries"),
    ("activity", "Activity"),
    ("locks", "Lock waits"),
    ("tenants", "Tenants"),
    ("history", "History"),
    ("workbench", "Workbench"),
]


def _live(
    request: HtmxHttpRequest,
    cluster_id: int,
    tab: str,
    options: figures.Options | None = None,
    after: Callable[[Cluster, dict[str, Any]], None] | None = None,
) -> HttpResponse:
    """The tab's figures, computed once per interval whoever asks (``monitoring.figures``); ``after``
    adds what is per request and costs the cluster nothing (the console's own state, the latest
    reachability probe)."""
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {
        "cluster": cluster,
        "tab": tab,
        "tabs": TABS,
        "refresh": settings.MONITORING_REFRESH_SECONDS,
    }
    shared_options = "&".join(f"{k}={v}" for k, v in sorted(request.GET.items()) if k in SHARED_OPTIONS)
    values = figures.shared_values(cluster, tab, shared_options, options)
    context.update(values)
    if after is not None and "error" not in context:
        after(cluster, context)
    template = f"monitoring/{tab}.html" + ("#panel" if request.htmx else "")
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def index(request: HttpRequest, cluster_id: int) -> HttpResponse:
    return redirect("monitoring:health", cluster_id=cluster_id)


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def queries(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    order = request.GET.get("order", "calls")
    return _live(request, cluster_id, "queries", {"order": order if order in ("calls", "time") else "calls"})


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def activity(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    options = {"include_idle": request.GET.get("idle") == "1", "fragments": request.GET.get("fragments") == "1"}
    return _live(request, cluster_id, "activity", options)


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def locks(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    return _live(request, cluster_id, "locks")


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def tenants(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    return _live(request, cluster_id, "tenants")


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def health_page(request: HtmxHttpRequest, cluster_id: int) -> HttpResponse:
    return _live(request, cluster_id, "health", after=figures.with_console_checks)


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def history(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Only the console's own database: the collector's snapshots over the chosen range."""
    cluster = cluster_for(request, cluster_id)
    hours = int_param(request.GET, "hours", 24) or 24
    hours = min(max(hours, 1), settings.COLLECTION_RETENTION_DAYS * 24)
    since = timezone.now() - timedelta(hours=hours)
    context: dict[str, Any] = {
        "cluster": cluster,
        "tab": "history",
        "tabs": TABS,
        "hours": hours,
        "ranges": [(1, "1 h"), (6, "6 h"), (24, "24 h"), (168, "7 days"), (720, "30 days")],
        "retention_days": settings.COLLECTION_RETENTION_DAYS,
    }
    context.update(charts.history(cluster, since))
    return render(request, "monitoring/history.html", context)


def _terminating(request: HttpRequest) -> bool:
    return request.POST.get("action") == "terminate"


@require_POST
@require_perm(lambda request, **_: Perm.TERMINATE_SESSION if _terminating(request) else Perm.CANCEL_SESSION)
def signal(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Cancel (Operator) or terminate (Operator) one backend by its global pid."""
    terminate = _terminating(request)
    cluster = cluster_for(request, cluster_id)
    gpid = int_param(request.POST, "global_pid", minimum=1)
    if gpid is None:
        messages.error(request, "No session chosen.")
        return redirect("monitoring:activity", cluster_id=cluster.pk)
    verb = "Terminate" if terminate else "Cancel"
    try:
        done = actions.do_signal_backend(request.user, cluster, gpid, terminate=terminate)
    except CitusError as exc:
        messages.error(request, f"{verb} failed: {exc.page_text()}")
    else:
        if done:
            messages.success(request, f"{verb} sent to global pid {gpid} (node {gpid // 10**10}, pid {gpid % 10**10}).")
        else:
            messages.warning(request, f"Global pid {gpid} is no longer running (nothing to {verb.lower()}).")
    back = "monitoring:locks" if request.POST.get("from") == "locks" else "monitoring:activity"
    return redirect(back, cluster_id=cluster.pk)


@require_POST
@require_perm(Perm.RESET_STATS)
def reset(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    tenants_too = request.POST.get("what") == "tenants"
    try:
        actions.do_reset_stats(request.user, cluster, tenants=tenants_too)
    except CitusError as exc:
        messages.error(request, f"Reset failed: {exc.page_text()}")
    else:
        messages.success(request, f"{'Tenant' if tenants_too else 'Query'} statistics reset.")
    return redirect("monitoring:tenants" if tenants_too else "monitoring:queries", cluster_id=cluster.pk)


def _workbench_perm(request: HttpRequest, **_: Any) -> Perm:
    return Perm.EXPLAIN_ANALYZE if request.POST.get("analyze") == "1" else Perm.EXPLAIN_QUERY


@require_http_methods(["GET", "POST"])
@require_perm(_workbench_perm)
def workbench(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Paste a query (or open one from Queries or Activity): how Citus runs it, in words and as a tree,
    and what to change. EXPLAIN never runs the query; EXPLAIN ANALYZE (Operators) runs a SELECT in a
    read-only transaction that is rolled back. A run may be saved (per user) and compared with another."""
    cluster = cluster_for(request, cluster_id)
    text = (request.POST.get("query") if request.method == "POST" else request.GET.get("query")) or ""
    context: dict[str, Any] = {
        "cluster": cluster,
        "tab": "workbench",
        "tabs": TABS,
        "query": text,
        "timeout_s": settings.WORKBENCH_TIMEOUT_MS // 1000,
    }
    if request.method == "POST":
        analyze = request.POST.get("analyze") == "1"
        try:
            result, facts, checked = actions.do_explain(request.user, cluster, text, analyze=analyze)
        except CitusError as exc:
            context.update(error=exc, marked=_marked(text, exc.position))
        else:
            reading = workbench_reading.read(
                result.plan,
                checked,
                facts,
                analyzed=analyze,
                repartition_joins_enabled=result.repartition_joins_enabled,
            )
            context.update(
                result=result,
                reading=reading,
                tree=workbench_reading.tree(result.plan),
                explained_at=timezone.now(),
            )
            if request.POST.get("save") == "1":
                context["saved"] = workbench_reading.save(
                    request.user, cluster, checked, result, facts, reading, request.POST.get("name", "")
                )
    saved = SavedExplain.objects.filter(user_id=request.user.pk or 0, cluster=cluster).only(
        "id", "name", "title", "shape", "total_ms", "analyzed", "created_at"
    )
    context["saved_list"] = saved[:20]
    return render(request, "monitoring/workbench.html", context)


@require_GET
@require_perm(Perm.EXPLAIN_QUERY)
def workbench_compare(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Two of this user's saved plans side by side (before and after a change)."""
    cluster = cluster_for(request, cluster_id)
    ids = [parse_int(request.GET.get(k, "")) for k in ("a", "b")]
    mine = SavedExplain.objects.filter(user_id=request.user.pk or 0, cluster=cluster)
    pair = [mine.filter(pk=i).first() if i is not None else None for i in ids]
    if any(p is None for p in pair):
        messages.error(request, "Choose two of your saved plans on this cluster to compare.")
        return redirect("monitoring:workbench", cluster_id=cluster.pk)
    sides = [workbench_reading.reread(p) for p in pair if p is not None]
    context = {"cluster": cluster, "tab": "workbench", "tabs": TABS, "sides": sides}
    return render(request, "monitoring/workbench_compare.html", context)


def _marked(text: str, position: int | None) -> dict[str, str] | None:
    """The text split where PostgreSQL marked the error (1-based), for the page to underline."""
    if position is None or not text:
        return None
    at = min(max(position - 1, 0), len(text))
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at)
    line = text[line_start : line_end if line_end != -1 else len(text)]
    prefix = f"line {text.count(chr(10), 0, at) + 1}: "
    return {"prefix": prefix, "line": line, "caret": " " * (len(prefix) + at - line_start) + "^"}


ALERT_PAGE_SIZE = 50


@require_GET
@require_perm(Perm.VIEW_MONITORING)
def alert_list(request: HttpRequest) -> HttpResponse:
    """Firing and acknowledged alerts first, then the history (resolved), on the clusters this user sees."""
    visible = visible_clusters(request.user)
    alerts = Alert.objects.select_related("cluster").exclude(state=Alert.State.PENDING)
    if not sees_all_clusters(request.user):
        alerts = alerts.filter(cluster__in=visible)
    state = choice_param(request.GET, "state", ("open", "resolved", "all"), "open")
    if state == "open":
        alerts = alerts.filter(state__in=[Alert.State.FIRING, Alert.State.ACKNOWLEDGED])
    elif state == "resolved":
        alerts = alerts.filter(state=Alert.State.RESOLVED)
    page, next_before = keyset_page(alerts, request.GET.get("before", ""), ALERT_PAGE_SIZE)
    rows = list(page)
    deliveries: dict[int, list[Any]] = {}
    for d in AlertDelivery.objects.filter(alert_id__in=[a.pk for a in rows]).order_by("id"):
        deliveries.setdefault(d.alert_id, []).append(d)
    return render(
        request,
        "monitoring/alerts.html",
        {
            "alerts": [(a, deliveries.get(a.pk, []), alerts_engine.RULES.get(a.rule)) for a in rows],
            "next_before": next_before,
            "state": state,
            "evaluated_every": settings.ALERT_EVALUATE_SECONDS,
            "channels": alerts_engine.channels(),
            "rules": alerts_engine.RULES.values(),
            "clusters": visible.order_by("name")[:50],
        },
    )


@require_POST
@require_perm(Perm.ACKNOWLEDGE_ALERT)
def alert_acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None or (alert.cluster_id is not None and not may_see(request.user, alert.cluster_id)):
        raise Http404("no such alert")
    comment = request.POST.get("comment", "").strip()[:1000]
    if not comment:
        messages.error(request, "Say what you are doing about it (the comment is kept with the alert).")
        return redirect("alerts:list")
    alert = actions.do_acknowledge_alert(request.user, alert.pk, comment)
    messages.success(request, f"Alert {alert.pk} is {alert.state}.")
    return redirect("alerts:list")


@require_http_methods(["GET", "POST"])
@require_perm(lambda request, **_: Perm.CONFIGURE_ALERTS if request.method == "POST" else Perm.VIEW_MONITORING)
def alert_rules(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Each rule as this cluster has it (defaults, or the cluster's own setting); Admins change one."""
    cluster = cluster_for(request, cluster_id)
    form = AlertRuleForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            result = actions.do_set_alert_rule(
                request.user,
                cluster,
                data["rule"],
                enabled=data["enabled"],
                for_minutes=data["for_minutes"],
                threshold=data["threshold"],
            )
            messages.success(request, f"{alerts_engine.RULES[data['rule']].title} on {cluster.name}: {result}.")
            return redirect("monitoring:alert_rules", cluster_id=cluster.pk)
        messages.error(request, "Not saved: " + "; ".join(str(m) for errors in form.errors.values() for m in errors))
    overrides = {o.rule: o for o in AlertOverride.objects.filter(cluster=cluster)}
    rows = []
    for rule in alerts_engine.RULES.values():
        own = overrides.get(rule.name)
        rows.append(
            {
                "rule": rule,
                "own": own,
                "enabled": own.enabled if own else True,
                "for_minutes": own.for_minutes if own and own.for_minutes is not None else rule.for_minutes,
                "threshold": own.threshold if own and own.threshold is not None else rule.threshold,
            }
        )
    return render(request, "monitoring/alert_rules.html", {"cluster": cluster, "rows": rows, "tab": "alert-rules"})
