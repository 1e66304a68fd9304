"""Overview and node management pages.

The topology is read from the coordinator's catalogs on every request (one statement, whatever the
cluster's size); sizes, reachability and connections come from the collector's latest snapshot.
Every change is previewed (the exact SQL) and confirmed, then runs through an audited action.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actions import ensure_permission
from audit.names import Action
from citusadmin.broker import BrokerUnavailable
from citusadmin.citus import cleanup as citus_cleanup
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.errors import CitusError
from citusadmin.operations import Operation
from citusadmin.params import choice_param, int_list, safe_next
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters.lookup import cluster_for
from clusters.models import Cluster
from monitoring import collector, reach
from monitoring.actions import do_refresh_now
from nodes import actions, reads
from nodes.forms import AddNodeForm, HostPortForm, ShouldHaveShardsForm, UpdateNodeForm
from nodes.health import banners, health_matrix, node_views, total_bytes


def _topology(cluster: Cluster) -> dict[str, Any]:
    """Capabilities (cached) and the live node list; a cluster error becomes ``error`` in the context."""
    context: dict[str, Any] = {"cluster": cluster, "read_at": timezone.now(), "nodes": []}
    try:
        context["caps"], context["nodes"] = reads.topology(cluster)
    except CitusError as exc:
        context["error"] = exc
    return context


def _page_context(cluster: Cluster) -> dict[str, Any]:
    context = _topology(cluster)
    collection = collector.latest(cluster)
    live = reach.latest(cluster.pk)
    views = node_views(context["nodes"], collection, live)
    known, unknown = total_bytes(views)
    context.update(
        live_reach=live,
        collection=collection,
        stale=collector.is_stale(collection),
        views=views,
        worker_count=sum(1 for n in context["nodes"] if not n.is_coordinator),
        matrix=health_matrix(collection),
        total_known_bytes=known,
        unknown_nodes=unknown,
        banners=banners(views, collection) if "error" not in context and context.get("caps") else [],
    )
    return context


@require_GET
def overview(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """One coordinator statement when capabilities are cached; two app-database reads for the snapshot."""
    cluster = cluster_for(request, cluster_id)
    context = _page_context(cluster)
    if cluster.has_patroni:  # Patroni's groups beside pg_dist_node (shared by every viewer, a few seconds)
        from clusters import ha

        context["ha"] = ha.shared(cluster)
    return render(request, "nodes/overview.html", context)


@require_GET
def node_list(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    context = _page_context(cluster)
    context["add_form"] = AddNodeForm()
    context["coordinator_form"] = HostPortForm(prefix="coord")
    return render(request, "nodes/nodes.html", context)


@require_POST
@require_perm(Perm.COLLECT_NOW)
def refresh_now(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    try:
        queued = do_refresh_now(request.user, cluster)
    except BrokerUnavailable as exc:
        messages.error(request, f"{exc.user_message} {exc.hint}")
    else:
        if queued:
            messages.success(request, "Measurement queued; the figures update within a few seconds (reload).")
        else:
            messages.info(request, "A measurement of this cluster is already queued; nothing more was added.")
    return redirect(safe_next(request, reverse("nodes:overview", args=[cluster.pk])))


def _fail(request: HttpRequest, exc: CitusError, what: str) -> None:
    messages.error(request, f"{what} failed: {exc.page_text()}")


@require_http_methods(["GET", "POST"])
@require_perm(Perm.ADD_NODE)
def add_node(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """GET: the form. POST: validate and preview. POST with confirm: add the node."""
    cluster = cluster_for(request, cluster_id)
    form = AddNodeForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        return render(request, "nodes/add.html", {"cluster": cluster, "form": form})
    data = form.cleaned_data
    groupid = data["groupid"]
    statement = citus_nodes.add_node_sql(
        data["host"], data["port"], groupid=groupid, role=data["role"], nodecluster=data["nodecluster"]
    )
    if request.POST.get("confirm") != "yes":
        return render(
            request,
            "nodes/add.html",
            {
                "cluster": cluster,
                "form": form,
                "preview": citus_nodes.render(statement),
                "data": data,
            },
        )
    try:
        result = actions.do_add_node(
            request.user,
            cluster,
            data["host"],
            data["port"],
            groupid=groupid,
            role=data["role"],
            nodecluster=data["nodecluster"],
        )
    except CitusError as exc:
        _fail(request, exc, f"Adding {data['host']}:{data['port']}")
        return render(request, "nodes/add.html", {"cluster": cluster, "form": form}, status=200)
    if result.existed:
        messages.info(
            request,
            f"{data['host']}:{data['port']} is already in the cluster (Citus node id {result.nodeid}); "
            "Citus changed nothing.",
        )
    else:
        messages.success(
            request,
            f"Added {data['host']}:{data['port']} to the cluster (Citus node id {result.nodeid}). It holds no shards "
            "yet and no reference "
            "tables: a rebalance moves shards to it and copies the reference tables first. "
            "Preview the rebalance from the Rebalance button.",
        )
    return redirect("nodes:list", cluster_id=cluster.pk)


OPERATIONS: dict[str, Operation] = {
    "activate": Operation(
        perm=Perm.ACTIVATE_NODE,
        title="Activate node",
        button="Activate",
        explain="Marks the node active and syncs metadata to it; queries are routed to it again.",
        statement=lambda n, f: citus_nodes.activate_node_sql(n.nodename, n.nodeport),
        run=lambda u, c, n, f, statement: actions.do_activate_node(u, c, n.nodeid),
        done=lambda n, f: f"{n.address} is active again.",
    ),
    "disable": Operation(
        perm=Perm.DISABLE_NODE,
        title="Disable node",
        button="Disable",
        danger=True,
        explain="Marks the node inactive: Citus stops routing queries to it. Citus refuses when the node holds "
        "the only placement of a shard.",
        statement=lambda n, f: citus_nodes.disable_node_sql(n.nodename, n.nodeport),
        run=lambda u, c, n, f, statement: actions.do_disable_node(u, c, n.nodeid),
        done=lambda n, f: f"{n.address} is disabled: queries needing its shards fail until it is activated.",
    ),
    "should-have-shards": Operation(
        perm=Perm.SET_SHOULD_HAVE_SHARDS,
        title="Set should-have-shards",
        button="Apply",
        form=ShouldHaveShardsForm,
        explain="Whether new shards and rebalances place shards on this node. Setting it to no does not move "
        "existing shards: drain the node for that.",
        statement=lambda n, f: citus_nodes.set_should_have_shards_sql(n.nodename, n.nodeport, f["value"]),
        run=lambda u, c, n, f, statement: actions.do_set_should_have_shards(u, c, n.nodeid, f["value"]),
        done=lambda n, f: (
            f"{n.address} {'may receive' if f.get('value') else 'will receive no'} new shards "
            f"(should-have-shards = {str(bool(f.get('value'))).lower()})."
        ),
    ),
    "update": Operation(
        perm=Perm.UPDATE_NODE,
        title="Move node to another host or port",
        button="Update",
        danger=True,
        form=UpdateNodeForm,
        explain="Points Citus at a new address for this node (after a failover or a move). The data is not "
        "copied: the new address must already serve this node's data.",
        statement=lambda n, f: citus_nodes.update_node_sql(n.nodeid, f["host"], f["port"]),
        run=lambda u, c, n, f, statement: actions.do_update_node(u, c, n.nodeid, f["host"], f["port"]),
        done=lambda n, f: f"The node {n.address} (id {n.nodeid}) is now at {f.get('host')}:{f.get('port')}.",
    ),
    "remove": Operation(
        perm=Perm.REMOVE_NODE,
        title="Remove node",
        button="Remove",
        danger=True,
        explain="Removes the node from the cluster's metadata. Reference-table placements on it are dropped "
        "from metadata; the data files stay on the node.",
        statement=lambda n, f: citus_nodes.remove_node_sql(n.nodename, n.nodeport),
        run=lambda u, c, n, f, statement: actions.do_remove_node(u, c, n.nodeid, force=f.get("force", False)),
        done=lambda n, f: f"{n.address} was removed from the cluster.",
    ),
}


@require_http_methods(["GET", "POST"])
@require_perm(lambda request, op, **_: OPERATIONS[op].perm)  # the URL pattern admits only these operations
def node_operation(request: HttpRequest, cluster_id: int, nodeid: int, op: str) -> HttpResponse:
    spec = OPERATIONS[op]
    cluster = cluster_for(request, cluster_id)
    context = _topology(cluster)
    if "error" in context:
        return render(request, "nodes/operation.html", {**context, "spec": spec, "op": op}, status=200)
    node = next((n for n in context["nodes"] if n.nodeid == nodeid), None)
    if node is None:
        messages.error(request, f"There is no node {nodeid} in {cluster.name} (any more).")
        return redirect("nodes:list", cluster_id=cluster.pk)
    form = spec.form(request.POST or None) if spec.form else None
    fields: dict[str, Any] = {}
    if form is not None and request.method == "POST":
        if not form.is_valid():
            return render(
                request, "nodes/operation.html", {**context, "spec": spec, "op": op, "node": node, "form": form}
            )
        fields = dict(form.cleaned_data)
    fields["force"] = request.POST.get("force") == "yes"
    ready = form is None or request.method == "POST"
    preview = citus_nodes.render(spec.sql_for(node, fields)) if ready else None
    refusal = actions.removal_refusal(node) if op == "remove" else None
    drain_url = reverse("cluster_jobs:drain", args=[cluster.pk, node.nodeid]) + "?remove=1" if refusal else None
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            spec.run(request.user, cluster, node, fields, spec.sql_for(node, fields))  # type: ignore[misc]
        except CitusError as exc:
            _fail(request, exc, f"{spec.title} on {node.address}")
        else:
            messages.success(request, spec.done(node, fields))
        return redirect("nodes:list", cluster_id=cluster.pk)
    return render(
        request,
        "nodes/operation.html",
        {
            **context,
            "spec": spec,
            "op": op,
            "node": node,
            "form": form,
            "preview": preview,
            "refusal": refusal,
            "fields": fields,
            "drain_and_remove_url": drain_url,
        },
    )


@require_http_methods(["GET", "POST"])
@require_perm(Perm.SET_COORDINATOR_HOST)
def coordinator_host(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    form = HostPortForm(request.POST or None, prefix="coord")
    if request.method == "GET" or not form.is_valid():
        return render(request, "nodes/coordinator.html", {"cluster": cluster, "form": form})
    host, port = form.cleaned_data["host"], form.cleaned_data["port"]
    if request.POST.get("confirm") != "yes":
        preview = citus_nodes.render(citus_nodes.set_coordinator_host_sql(host, port))
        return render(request, "nodes/coordinator.html", {"cluster": cluster, "form": form, "preview": preview})
    try:
        actions.do_set_coordinator_host(request.user, cluster, host, port)
    except CitusError as exc:
        _fail(request, exc, "Setting the coordinator host")
    else:
        messages.success(request, f"The coordinator is registered as {host}:{port}.")
    return redirect("nodes:list", cluster_id=cluster.pk)


@require_http_methods(["GET", "POST"])
@require_perm(Perm.VIEW_MONITORING)
def cleanup_page(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """pg_dist_cleanup in names: what Citus still has to drop, where, and which records belong to a node
    group that no longer exists. POST ``op=run`` calls Citus's cleanup; ``op=forget`` previews, then
    (``confirm=yes``) deletes exactly the previewed records of removed groups."""
    cluster = cluster_for(request, cluster_id)
    op = ""
    if request.method == "POST":  # every change here is topology: Admins only, refusals audited
        op = choice_param(request.POST, "op", ("run", "forget"), "forget")
        ensure_permission(
            request.user,
            Perm.REMOVE_NODE,
            action=Action.FORGET_CLEANUP_RECORDS if op == "forget" else Action.RUN_CLEANUP,
            cluster=cluster,
        )
    if op == "run":
        try:
            left = actions.do_run_cleanup(request.user, cluster)
        except CitusError as exc:
            _fail(request, exc, "Citus's cleanup")
        else:
            messages.success(request, f"Citus's cleanup ran; {left} record(s) left.")
        return redirect("nodes:cleanup", cluster_id=cluster.pk)
    context: dict[str, Any] = {"cluster": cluster, "read_at": timezone.now()}
    try:
        records = reads.cleanup_records(cluster)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "nodes/cleanup.html", context)
    orphaned = [r for r in records if r.group_gone]
    context.update(records=records, orphaned=orphaned)
    if op == "forget" and orphaned:
        ids = [r.record_id for r in orphaned]
        if request.POST.get("confirm") == "yes":
            chosen = int_list(request.POST.get("record_ids", "")) or []
            try:
                deleted = actions.do_forget_orphaned_cleanup(request.user, cluster, [i for i in chosen if i in ids])
            except CitusError as exc:
                _fail(request, exc, "Forgetting the records")
            else:
                messages.success(request, f"{deleted} record(s) of removed nodes forgotten.")
            return redirect("nodes:cleanup", cluster_id=cluster.pk)
        context.update(
            preview=citus_nodes.render(citus_cleanup.forget_orphaned_sql(ids)), record_ids=",".join(map(str, ids))
        )
    return render(request, "nodes/cleanup.html", context)
