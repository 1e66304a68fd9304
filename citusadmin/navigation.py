"""The main navigation, declared as data: each item's page, the permission it needs, whether it is a
page of the current cluster, and which pages light it up. ``base.html`` only draws it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from citusadmin.perms import Perm


@dataclass(frozen=True)
class Item:
    label: str
    url_name: str
    perms: tuple[Perm, ...]  # any one of them shows the item
    per_cluster: bool = False  # a page of the current cluster (greyed out until one is chosen)
    active_in: tuple[str, ...] = ()  # namespaces (or namespace:name) that light it up
    active_not: tuple[str, ...] = ()  # view names that do not
    query: str = ""  # added to the link (``{cid}``: the current cluster)
    query_if: Perm | None = None  # only for users with this permission


NAV: tuple[Item, ...] = (
    Item("Overview", "nodes:overview", (Perm.VIEW_CLUSTER,), per_cluster=True, active_in=("nodes:overview",)),
    Item(
        "Nodes",
        "nodes:list",
        (Perm.VIEW_CLUSTER,),
        per_cluster=True,
        active_in=("nodes",),
        active_not=("nodes:overview",),
    ),
    Item("Tables", "tables:list", (Perm.VIEW_CLUSTER,), per_cluster=True, active_in=("tables",)),
    Item("HA", "ha:page", (Perm.VIEW_CLUSTER,), per_cluster=True, active_in=("ha",)),
    Item("Jobs", "jobs:list", (Perm.VIEW_JOB,), active_in=("jobs", "cluster_jobs"), query="cluster={cid}"),
    Item(
        "Monitoring",
        "monitoring:index",
        (Perm.VIEW_MONITORING,),
        per_cluster=True,
        active_in=("monitoring",),
        active_not=("monitoring:workbench",),
    ),
    Item(
        "Workbench",
        "monitoring:workbench",
        (Perm.EXPLAIN_QUERY,),
        per_cluster=True,
        active_in=("monitoring:workbench",),
    ),
    Item("Alerts", "alerts:list", (Perm.VIEW_MONITORING,), active_in=("alerts",)),
    Item("Clusters", "clusters:list", (Perm.VIEW_CLUSTER,), active_in=("clusters",)),
    Item(
        "Requests",
        "selfservice:list",
        (Perm.REQUEST_CHANGE, Perm.DECIDE_CHANGE),
        active_in=("selfservice", "cluster_requests"),
        active_not=("selfservice:inbox",),
        query="state=pending",
        query_if=Perm.DECIDE_CHANGE,
    ),
    Item("Audit", "audit:list", (Perm.VIEW_AUDIT,), active_in=("audit",)),
    Item("Users", "accounts:users", (Perm.MANAGE_USERS,), active_in=("accounts",)),
)


def _active(item: Item, request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None or match.view_name in item.active_not:
        return False
    return match.view_name in item.active_in or match.namespace in item.active_in


def items(request: HttpRequest, cluster_id: Any) -> list[dict[str, Any]]:
    """What the current user sees: label, href (None: greyed out, choose a cluster first), active."""
    user = request.user
    out = []
    for item in NAV:
        if not any(user.has_perm(p) for p in item.perms):
            continue
        href = None
        if not item.per_cluster:
            href = reverse(item.url_name)
        elif cluster_id:
            href = reverse(item.url_name, kwargs={"cluster_id": cluster_id})
        if href and item.query and (item.query_if is None or user.has_perm(item.query_if)):
            query = item.query.format(cid=cluster_id or "")
            if not query.endswith("="):
                href += "?" + query
        out.append({"label": item.label, "href": href, "active": _active(item, request)})
    return out
