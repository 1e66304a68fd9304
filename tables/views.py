"""Tables: where data lives (catalog reads, keyset pages) and distribution changes (previewed, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from citusadmin.broker import BrokerUnavailable
from citusadmin.citus import tables as citus_tables
from citusadmin.citus.errors import CitusError
from citusadmin.operations import Operation
from citusadmin.params import int_param, parse_int
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm
from clusters.lookup import cluster_for
from clusters.models import Cluster
from jobs import kinds
from jobs.actions import JobAlreadyRunning, do_start_job
from jobs.models import Job
from monitoring import collector
from monitoring.models import ColocationNodeSnapshot, ShardSize, TableSnapshot
from tables import actions, distributing, reads
from tables import placement_map as placement_map_module
from tables.forms import AlterForm, DistributeForm, GrantForm, TableFilterForm

PAGE_SIZE = 50


@require_GET
def table_list(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """One coordinator statement for the page (plus capabilities when not cached); sizes from the snapshot."""
    cluster = cluster_for(request, cluster_id)
    form = TableFilterForm(request)
    sort = form.value("sort", "name")
    context: dict[str, Any] = {"cluster": cluster, "form": form}
    # keyset token: "schema.name", or "shard_count:schema.name" when sorted by shard count
    after: tuple[str, str] | None = None
    after_count = None
    token = request.GET.get("after", "").strip()
    if sort == "shards" and ":" in token:
        count_part, _, token = token.partition(":")
        after_count = parse_int(count_part, 0)
    if "." in token:
        schema_part, _, name_part = token.partition(".")
        after = (schema_part, name_part)
    try:
        rows = reads.table_page(
            cluster,
            schema=form.value("schema"),
            kind=form.value("kind"),
            name=form.value("name"),
            after=after,
            limit=PAGE_SIZE + 1,
            sort=sort,
            after_count=after_count,
        )
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/list.html", context)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    latest = collector.latest_finished(cluster)
    sizes = {}
    if latest is not None:
        sizes = {t.relid: t for t in TableSnapshot.objects.filter(collection=latest, relid__in=[r.relid for r in rows])}
    context.update(
        rows=[(r, sizes.get(r.relid)) for r in rows],
        collection=latest,
        next_after=(
            (f"{rows[-1].shard_count}:" if sort == "shards" else "") + f"{rows[-1].schema}.{rows[-1].name}"
            if more
            else None
        ),
    )
    return render(request, "tables/list.html", context)


def _info(cluster: Cluster, relid: int) -> citus_tables.TableInfo:
    info = reads.table_info(cluster, relid)
    if info is None:
        raise Http404("no such table")
    return info


@require_GET
def table_detail(request: HttpRequest, cluster_id: int, relid: int) -> HttpResponse:
    cluster = cluster_for(request, cluster_id)
    after = int_param(request.GET, "after")
    context: dict[str, Any] = {"cluster": cluster, "relid": relid}
    try:
        info, shards = reads.table_with_shards(cluster, relid, after=after, limit=PAGE_SIZE + 1)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/detail.html", context)
    if info is None:
        raise Http404("no such table")
    latest = collector.latest_finished(cluster)
    snapshot = TableSnapshot.objects.filter(collection=latest, relid=relid).first() if latest else None
    shard_bytes = dict(
        ShardSize.objects.filter(cluster=cluster, shardid__in=[s.shardid for s in shards]).values_list(
            "shardid", "bytes"
        )
    )
    context.update(
        info=info,
        shards=[(s, shard_bytes.get(s.shardid)) for s in shards[:PAGE_SIZE]],
        snapshot=snapshot,
        collection=latest,
        next_after=shards[PAGE_SIZE - 1].shardid if len(shards) > PAGE_SIZE else None,
    )
    return render(request, "tables/detail.html", context)


@require_http_methods(["GET", "POST"])
@require_perm(Perm.DISTRIBUTE_TABLE)
def distribute(request: HttpRequest, cluster_id: int, relid: int) -> HttpResponse:
    """Form (only sensible choices), then checks and the exact SQL, then confirm."""
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster}
    try:
        inputs = reads.distribute_inputs(cluster, relid)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/distribute.html", context)
    caps, info, partners = inputs.caps, inputs.info, inputs.partners
    if info is None:
        raise Http404("no such table")
    form = DistributeForm(
        request.POST or None,
        columns=[(c.name, c.type) for c in info.columns],
        partners=[p for p in partners if p != info.qualified],
        default_shards=caps.setting("citus.shard_count") or "32",
    )
    context.update(info=info, form=form)
    if request.method == "GET" or not form.is_valid():
        return render(request, "tables/distribute.html", context)
    data = form.cleaned_data
    try:
        planned = distributing.plan(
            cluster,
            info,
            caps.create_concurrently,
            column=data["column"],
            shard_count=data["shard_count"],
            colocate_with=data["colocate_with"],
            as_job=data["as_job"],
        )
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/distribute.html", context)
    context.update(checks=planned.checks, preview=planned.preview, as_job=planned.as_job)
    if request.POST.get("confirm") != "yes" or not planned.checks.ok:
        return render(request, "tables/distribute.html", context)
    try:
        outcome = distributing.run(request.user, cluster, planned)
    except (BrokerUnavailable, JobAlreadyRunning) as exc:
        messages.error(request, exc.user_message)
        return render(request, "tables/distribute.html", context)
    except CitusError as exc:
        messages.error(request, f"Distributing {info.display} failed: {exc.page_text()}")
        return render(request, "tables/distribute.html", context)
    if isinstance(outcome, Job):
        return redirect("jobs:detail", job_id=outcome.pk)
    messages.success(
        request,
        f"{info.display} is now distributed by {data['column']}." + (" Citus: " + " ".join(outcome) if outcome else ""),
    )
    return _to_table(cluster, info)


@require_GET
def placement_map(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Co-location groups, 10 a page: two catalog statements, two snapshot reads, whatever the size."""
    cluster = cluster_for(request, cluster_id)
    after = int_param(request.GET, "after", maximum=2**31 - 1)
    context: dict[str, Any] = {"cluster": cluster}
    try:
        shown, nodes, placements, more = reads.colocation_page(cluster, after=after, size=10)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/map.html", context)
    latest = collector.latest_finished(cluster)
    totals: dict[tuple[int, int], tuple[int, int | None]] = {}
    if latest is not None:
        for row in ColocationNodeSnapshot.objects.filter(
            collection=latest, colocation_id__in=[g.colocation_id for g in shown]
        ):
            totals[(row.colocation_id, row.groupid)] = (row.placements, row.bytes)
    shard_bytes = dict(
        ShardSize.objects.filter(cluster=cluster, shardid__in={p.shardid for p in placements}).values_list(
            "shardid", "bytes"
        )
    )
    context.update(
        maps=placement_map_module.build(shown, placements, nodes, totals, shard_bytes),
        collection=latest,
        next_after=shown[-1].colocation_id if more else None,
    )
    return render(request, "tables/map.html", context)


def _schemas_context(cluster: Cluster) -> dict[str, Any]:
    context: dict[str, Any] = {"cluster": cluster}
    try:
        context["schemas"], context["supported"] = reads.schemas(cluster)
    except CitusError as exc:
        context["error"] = exc
    return context


@require_GET
def schema_list(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Schemas, and schema-based sharding where the cluster has it (Citus 12.0+)."""
    cluster = cluster_for(request, cluster_id)
    return render(request, "tables/schemas.html", _schemas_context(cluster))


@require_POST
@require_perm(Perm.DISTRIBUTE_SCHEMA)
def schema_change(request: HttpRequest, cluster_id: int) -> HttpResponse:
    """Preview, then (confirm=yes) distribute or undistribute one schema."""
    cluster = cluster_for(request, cluster_id)
    context = _schemas_context(cluster)
    if "error" in context:
        return render(request, "tables/schemas.html", context)
    name = request.POST.get("schema", "")
    row = next((r for r in context["schemas"] if r.name == name), None)
    if row is None or not context["supported"]:
        messages.error(request, "No such schema, or this cluster has no schema-based sharding (Citus 12.0+).")
        return redirect("tables:schemas", cluster_id=cluster.pk)
    undistribute = row.distributed
    statement = citus_tables.schema_distribute_sql(name, undistribute=undistribute)
    if request.POST.get("confirm") != "yes":
        context.update(preview=statement.as_string(), chosen=row)
        return render(request, "tables/schemas.html", context)
    try:
        actions.do_distribute_schema(request.user, cluster, name, statement, undistribute)
    except CitusError as exc:
        messages.error(request, f"Schema {name}: {exc.page_text()}")
    else:
        messages.success(request, f"Schema {name} is {'no longer' if undistribute else 'now'} distributed.")
    return redirect("tables:schemas", cluster_id=cluster.pk)


def _to_table(cluster: Cluster, info: citus_tables.TableInfo) -> HttpResponse:
    """Back to the table's page. Some conversions (undistribute, add to metadata) give the table a new
    oid under the same name, so look it up again."""
    try:
        relid = reads.find_relid(cluster, info.schema, info.name)
    except CitusError:
        relid = None
    if relid is None:
        return redirect("tables:list", cluster_id=cluster.pk)
    return redirect("tables:detail", cluster_id=cluster.pk, relid=relid)


def _table_job(name: str, **extra: Any) -> Any:
    """An operation that runs as a job of kind ``name`` on the table (``extra``: fixed parameters)."""

    def job(info: citus_tables.TableInfo, fields: dict[str, Any]) -> tuple[kinds.JobKind, Any]:
        kind = kinds.kind(name)
        raw: dict[str, Any] = {"schema": info.schema, "table": info.name, "relation": info.qualified, **extra}
        raw.update({k: fields.get(k) or None for k in _ALTER_FIELDS if k in fields})
        return kind, kind.Params.load(raw)

    return job


_ALTER_FIELDS = ("shard_count", "colocate_with", "distribution_column", "cascade_to_colocated")


def _grant_done(info: citus_tables.TableInfo, f: dict[str, Any]) -> str:
    if f.get("revoke"):
        return f"Revoked {f.get('privilege')} on {info.display} from {f.get('role')} (on every shard too)."
    return f"Granted {f.get('privilege')} on {info.display} to {f.get('role')} (on every shard too)."


def _job_done(info: citus_tables.TableInfo, f: dict[str, Any]) -> str:
    return f"Started as a job on {info.display}."


OPERATIONS: dict[str, Operation] = {
    "reference": Operation(
        perm=Perm.MAKE_REFERENCE_TABLE,
        title="Make a reference table",
        explain="Copies the table to every node (a full copy each); writes go to all copies. For "
        "small lookup tables joined with distributed ones.",
        statement=lambda info, f: citus_tables.reference_sql(info.qualified),
        run=lambda u, c, info, f, statement: actions.do_make_reference(u, c, info.display, statement),
        done=lambda info, f: f"{info.display} is now a reference table, with a copy on every node.",
    ),
    "undistribute": Operation(
        perm=Perm.UNDISTRIBUTE_TABLE,
        title="Undistribute",
        danger=True,
        cascade_option=True,
        explain="Copies the data back into a plain table on the coordinator and drops the shards. "
        "Blocks writes while it copies.",
        statement=lambda info, f: citus_tables.undistribute_sql(info.qualified, cascade=bool(f.get("cascade"))),
        run=lambda u, c, info, f, statement: actions.do_undistribute(u, c, info.display, statement, f["cascade"]),
        done=lambda info, f: f"{info.display} is a plain PostgreSQL table again, on the coordinator.",
    ),
    "add-to-metadata": Operation(
        perm=Perm.ADD_TABLE_TO_METADATA,
        title="Add to Citus metadata",
        cascade_option=True,
        explain="Makes it a Citus-local table: it stays on the coordinator but can take part in "
        "foreign keys with reference tables and be queried from workers.",
        statement=lambda info, f: citus_tables.add_to_metadata_sql(info.qualified, cascade=bool(f.get("cascade"))),
        run=lambda u, c, info, f, statement: actions.do_add_to_metadata(u, c, info.display, statement, f["cascade"]),
        done=lambda info, f: f"{info.display} is now in Citus's metadata (a Citus local table).",
    ),
    "alter": Operation(
        perm=Perm.ALTER_TABLE,
        title="Change shard count, co-location or column",
        danger=True,
        explain="alter_distributed_table rewrites the table into new shards (a job). Writes are blocked "
        "while it copies.",
        form=AlterForm,
        job=_table_job("change_shard_count"),
        done=_job_done,
    ),
    "vacuum": Operation(
        perm=Perm.START_MAINTENANCE,
        title="VACUUM",
        explain="VACUUM runs on every shard (outside a transaction block), as a job.",
        job=_table_job("vacuum", command="VACUUM"),
        done=_job_done,
    ),
    "vacuum-analyze": Operation(
        perm=Perm.START_MAINTENANCE,
        title="VACUUM ANALYZE",
        explain="VACUUM and refresh planner statistics on every shard, as a job.",
        job=_table_job("vacuum", command="VACUUM ANALYZE"),
        done=_job_done,
    ),
    "analyze": Operation(
        perm=Perm.START_MAINTENANCE,
        title="ANALYZE",
        explain="Refreshes planner statistics on every shard, as a job.",
        job=_table_job("analyze"),
        done=_job_done,
    ),
    "grant": Operation(
        perm=Perm.GRANT_PRIVILEGES,
        title="Grant or revoke a privilege",
        explain="Citus propagates GRANT and REVOKE on a distributed table to every shard.",
        form=GrantForm,
        statement=lambda info, f: citus_tables.grant_sql(
            info.schema, info.name, f["privilege"], f["role"], revoke=bool(f.get("revoke"))
        ),
        run=lambda u, c, info, f, statement: actions.do_grant(
            u, c, info.qualified, statement, {k: f.get(k) for k in ("privilege", "role", "revoke")}
        ),
        button_for=lambda f: "Revoke" if f.get("revoke") else "Grant",
        done=_grant_done,
    ),
}


@require_http_methods(["GET", "POST"])
@require_perm(lambda request, op, **_: OPERATIONS[op].perm)  # the URL pattern admits only these operations
def table_operation(request: HttpRequest, cluster_id: int, relid: int, op: str) -> HttpResponse:
    return _operation(request, cluster_id, relid, op)


def _operation(request: HttpRequest, cluster_id: int, relid: int, op: str) -> HttpResponse:
    spec = OPERATIONS[op]
    cluster = cluster_for(request, cluster_id)
    context: dict[str, Any] = {"cluster": cluster, "spec": spec, "op": op}
    try:
        info = _info(cluster, relid)
    except CitusError as exc:
        context["error"] = exc
        return render(request, "tables/operation.html", context)
    form = spec.form(request.POST or None) if spec.form else None
    fields: dict[str, Any] = {"cascade": request.POST.get("cascade") == "yes"}
    if form is not None and request.method == "POST":
        if not form.is_valid():
            return render(request, "tables/operation.html", {**context, "info": info, "form": form})
        fields.update(form.cleaned_data)
    ready = form is None or request.method == "POST"
    preview = spec.sql_for(info, fields).as_string() if ready else None
    context.update(info=info, form=form, preview=preview, fields=fields, action_label=spec.label(fields))
    if not (request.method == "POST" and request.POST.get("confirm") == "yes"):
        return render(request, "tables/operation.html", context)
    try:
        if spec.job is not None:
            kind, params = spec.job(info, fields)
            job = do_start_job(request.user, cluster, kind, params, target=info.display)
            return redirect("jobs:detail", job_id=job.pk)
        notices = spec.run(request.user, cluster, info, fields, spec.sql_for(info, fields))  # type: ignore[misc]
    except (BrokerUnavailable, JobAlreadyRunning) as exc:
        messages.error(request, exc.user_message)
        return render(request, "tables/operation.html", context)
    except CitusError as exc:
        messages.error(request, f"{spec.title} failed: {exc.page_text()}")
        return render(request, "tables/operation.html", context)
    except PermissionDenied:
        raise
    messages.success(request, spec.done(info, fields) + (" Citus: " + " ".join(notices) if notices else ""))
    return _to_table(cluster, info)
