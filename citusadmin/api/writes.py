"""The API's changes: the pages' own forms validate, the pages' own actions, operation declarations and
job kinds run them (so permissions, audit entries with the SQL sent, locks and four-eyes are the
same); nothing here talks to a cluster by itself. Every call takes ``Idempotency-Key``; those that
start a job answer 202 with the job to follow."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from citusadmin.api import schemas
from citusadmin.api.core import FormInvalid, api, as_json, idempotent, require, validated, visible_cluster
from citusadmin.api.reads import job_out, request_out, visible_job
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.errors import Refused
from citusadmin.perms import Perm
from clusters.models import Cluster
from jobs import kinds, preview
from jobs.actions import do_cancel_job, do_start_job
from jobs.forms import RebalanceForm
from jobs.models import Job
from nodes import actions as node_actions
from nodes import reads as node_reads
from nodes.forms import AddNodeForm
from nodes.views import OPERATIONS as NODE_OPERATIONS
from selfservice import actions as request_actions
from selfservice import plans
from selfservice.forms import DecisionForm, RequestForm
from selfservice.reads import request_for
from tables import distributing
from tables import reads as table_reads
from tables.forms import DistributeForm
from tables.views import OPERATIONS as TABLE_OPERATIONS

STARTED = {202: schemas.JobOut}


def _started(job: Job) -> tuple[int, dict[str, Any]]:
    job.refresh_from_db()
    return 202, as_json(job_out(job))


def done_answer(text: str, statement: str, notices: list[str] | None = None) -> tuple[int, dict[str, Any]]:
    return 200, {"done": text, "statement": statement, "notices": notices or []}


def preview_answer(statement: str, refusal: str | None = None) -> tuple[int, dict[str, Any]]:
    return 200, {"statement": statement, "refusal": refusal}


def _live_node(cluster: Cluster, nodeid: int) -> tuple[citus_nodes.Node, list[citus_nodes.Node]]:
    found = node_reads.nodes(cluster)
    node = next((n for n in found if n.nodeid == nodeid), None)
    if node is None:
        raise Http404(f"There is no node {nodeid} in {cluster.name} (any more).")
    return node, found


# --- rebalance and jobs -------------------------------------------------------------------------------------


def _rebalance_params(cluster: Cluster, payload: schemas.RebalanceIn) -> tuple[str, dict[str, Any]]:
    from jobs import reads

    inputs = reads.rebalance_inputs(cluster)
    data = validated(
        RebalanceForm,
        payload.dict(),
        strategies=[s.name for s in inputs.strategies],
        tables=inputs.tables,
        background=inputs.caps.rebalance_status,
    )
    form = RebalanceForm(strategies=[], tables=[])
    form.cleaned_data = data
    return form.kind_and_params()


@api.post("/clusters/{cluster_id}/rebalance", response=STARTED, summary="Start a rebalance (a job)")
def rebalance(request: HttpRequest, cluster_id: int, payload: schemas.RebalanceIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.START_REBALANCE)

    def start() -> tuple[int, dict[str, Any]]:
        name, params = _rebalance_params(cluster, payload)
        target = params.get("relation") or cluster.name
        return _started(do_start_job(request.user, cluster, kinds.KINDS[name], params, target=target))

    return idempotent(request, start)


@api.post(
    "/clusters/{cluster_id}/rebalance/plan",
    response={200: schemas.RebalancePlanOut, 202: schemas.RebalancePlanOut},
    summary="Preview a rebalance: Citus's planned moves (202 while a worker computes it: call again)",
)
def rebalance_plan(request: HttpRequest, cluster_id: int, payload: schemas.RebalanceIn) -> Any:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.START_REBALANCE)
    name, params = _rebalance_params(cluster, payload)
    statement = kinds.KINDS[name].statement(params).as_string()
    key = preview.plan_key(cluster, params)
    result = preview.cached(key) or preview.try_inline(cluster, params, key)
    if result is None:
        preview.queue(cluster, params, key)
        body = {"state": "computing", "statement": statement, "moves": [], "total_bytes": 0, "computed_at": None}
        return 202, {**body, "retry_after_seconds": 2}
    if result.error is not None:
        return 200, {
            "state": "failed",
            "statement": statement,
            "moves": [],
            "total_bytes": 0,
            "computed_at": result.computed_at,
            "error": result.error.page_text(),
        }
    moves = [
        {"table": m.table_name, "shardid": m.shardid, "bytes": m.shard_size, "source": m.source, "target": m.target}
        for m in result.moves
    ]
    return 200, {
        "state": "ready",
        "statement": statement,
        "moves": moves,
        "total_bytes": sum(m.shard_size or 0 for m in result.moves),
        "computed_at": result.computed_at,
    }


@api.post("/jobs/{job_id}/cancel", response=schemas.JobOut, summary="Cancel a job (finished moves are kept)")
def cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    found = visible_job(request, job_id)
    return idempotent(request, lambda: (200, as_json(job_out(do_cancel_job(request.user, found)))))


# --- nodes ---------------------------------------------------------------------------------------------------


@api.post(
    "/clusters/{cluster_id}/nodes",
    response={200: schemas.DoneOut | schemas.PreviewOut},
    summary="Add a node (citus_add_node / citus_add_secondary_node)",
)
def add_node(request: HttpRequest, cluster_id: int, payload: schemas.NodeIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.ADD_NODE)
    data = validated(AddNodeForm, payload.dict(exclude={"preview"}))
    statement = citus_nodes.render(
        citus_nodes.add_node_sql(
            data["host"], data["port"], groupid=data["groupid"], role=data["role"], nodecluster=data["nodecluster"]
        )
    )
    if payload.preview:
        return idempotent(request, lambda: preview_answer(statement))

    def run() -> tuple[int, dict[str, Any]]:
        result = node_actions.do_add_node(
            request.user,
            cluster,
            data["host"],
            data["port"],
            groupid=data["groupid"],
            role=data["role"],
            nodecluster=data["nodecluster"],
        )
        what = "was already in the cluster; Citus changed nothing" if result.existed else "was added"
        return done_answer(f"{data['host']}:{data['port']} {what} (Citus node id {result.nodeid}).", statement)

    return idempotent(request, run)


@api.post(
    "/clusters/{cluster_id}/nodes/{nodeid}/drain",
    response={200: schemas.PreviewOut, 202: schemas.JobOut},
    summary="Drain a node (a job); remove: true removes it once it holds nothing",
)
def drain(request: HttpRequest, cluster_id: int, nodeid: int, payload: schemas.DrainIn) -> HttpResponse:
    kind = kinds.drain.DrainAndRemove() if payload.remove else kinds.drain.DrainNode()
    cluster = visible_cluster(request, cluster_id)
    require(request, kind.perm)
    node, every = _live_node(cluster, nodeid)
    params = kinds.drain.DrainParams(nodeid=node.nodeid, transfer_mode=payload.transfer_mode)
    refusal = kinds.drain.refusal(every, nodeid)
    if payload.preview:
        return idempotent(request, lambda: preview_answer(";\n".join(kind.steps(node, params)) + ";", refusal))
    if refusal:
        raise Refused(refusal)

    return idempotent(request, lambda: _started(do_start_job(request.user, cluster, kind, params, target=node.address)))


@api.post(
    "/clusters/{cluster_id}/nodes/{nodeid}/{operation}",
    response={200: schemas.DoneOut | schemas.PreviewOut},
    summary="A node operation: activate, disable, should-have-shards, update, remove",
)
def node_operation(
    request: HttpRequest, cluster_id: int, nodeid: int, operation: str, payload: schemas.NodeOperationIn
) -> HttpResponse:
    spec = NODE_OPERATIONS.get(operation)
    if spec is None:
        raise Http404(f"There is no node operation {operation[:40]}: one of {', '.join(NODE_OPERATIONS)}.")
    cluster = visible_cluster(request, cluster_id)
    require(request, spec.perm)
    fields = validated(spec.form, payload.dict(exclude={"preview", "force"})) if spec.form else {}
    fields["force"] = payload.force
    node, _ = _live_node(cluster, nodeid)
    statement = spec.sql_for(node, fields)
    shown = citus_nodes.render(statement)
    refusal = node_actions.removal_refusal(node) if operation == "remove" else None
    if payload.preview:
        return idempotent(request, lambda: preview_answer(shown, refusal))

    def run() -> tuple[int, dict[str, Any]]:
        assert spec.run is not None  # node operations run actions
        spec.run(request.user, cluster, node, fields, statement)
        return done_answer(spec.done(node, fields), shown)

    return idempotent(request, run)


# --- tables --------------------------------------------------------------------------------------------------


def _table(cluster: Cluster, relid: int) -> Any:
    info = table_reads.table_info(cluster, relid)
    if info is None:
        raise Http404(f"There is no table {relid} in {cluster.name} (any more).")
    return info


@api.post(
    "/clusters/{cluster_id}/tables/{relid}/distribute",
    response={200: schemas.DoneOut | schemas.PreviewOut, 202: schemas.JobOut},
    summary="Distribute a table (a job when large or asked: create_distributed_table_concurrently)",
)
def distribute(request: HttpRequest, cluster_id: int, relid: int, payload: schemas.DistributeIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.DISTRIBUTE_TABLE)
    inputs = table_reads.distribute_inputs(cluster, relid)
    if inputs.info is None:
        raise Http404(f"There is no table {relid} in {cluster.name} (any more).")
    info = inputs.info
    data = validated(
        DistributeForm,
        payload.dict(exclude={"preview"}),
        columns=[(c.name, c.type) for c in info.columns],
        partners=[p for p in inputs.partners if p != info.qualified],
        default_shards="",
    )
    planned = distributing.plan(
        cluster,
        info,
        inputs.caps.create_concurrently,
        column=data["column"],
        shard_count=data["shard_count"],
        colocate_with=data["colocate_with"],
        as_job=data["as_job"],
    )
    refusal = "; ".join(planned.checks.problems) if not planned.checks.ok else None
    if payload.preview:
        return idempotent(request, lambda: preview_answer(planned.preview, refusal))
    if refusal:
        raise Refused(f"Not distributed: {refusal}")

    def run() -> tuple[int, dict[str, Any]]:
        outcome = distributing.run(request.user, cluster, planned)
        if isinstance(outcome, Job):
            return _started(outcome)
        return done_answer(f"{info.display} is now distributed by {data['column']}.", planned.preview, outcome)

    return idempotent(request, run)


@api.post(
    "/clusters/{cluster_id}/tables/{relid}/{operation}",
    response={200: schemas.DoneOut | schemas.PreviewOut, 202: schemas.JobOut},
    summary="A table operation: reference, undistribute, add-to-metadata, alter, vacuum, vacuum-analyze, "
    "analyze, grant (the job ones answer 202)",
)
def table_operation(
    request: HttpRequest, cluster_id: int, relid: int, operation: str, payload: schemas.TableOperationIn
) -> HttpResponse:
    spec = TABLE_OPERATIONS.get(operation)
    if spec is None:
        raise Http404(f"There is no table operation {operation[:40]}: one of {', '.join(TABLE_OPERATIONS)}.")
    cluster = visible_cluster(request, cluster_id)
    require(request, spec.perm)
    values = payload.dict(exclude={"preview", "cascade"})
    fields: dict[str, Any] = {"cascade": payload.cascade}
    if spec.form is not None:
        known = set(spec.form.base_fields)
        fields.update(validated(spec.form, {k: v for k, v in values.items() if k in known}))
    info = _table(cluster, relid)
    statement = spec.sql_for(info, fields).as_string()
    if payload.preview:
        return idempotent(request, lambda: preview_answer(statement))

    def run() -> tuple[int, dict[str, Any]]:
        if spec.job is not None:
            kind, params = spec.job(info, fields)
            return _started(do_start_job(request.user, cluster, kind, params, target=info.display))
        assert spec.run is not None
        notices = spec.run(request.user, cluster, info, fields, spec.sql_for(info, fields))
        return done_answer(spec.done(info, fields), statement, list(notices or []))

    return idempotent(request, run)


# --- change requests (four eyes) -----------------------------------------------------------------------------


@api.post(
    "/clusters/{cluster_id}/requests",
    response={200: schemas.PreviewOut, 201: schemas.RequestOut},
    summary="Ask for a change (Requesters); an Admin other than you approves it",
)
def create_request(request: HttpRequest, cluster_id: int, payload: schemas.RequestIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.REQUEST_CHANGE)
    form = RequestForm(_strings(payload.dict(exclude={"preview"})))
    if not form.is_valid():
        raise FormInvalid({k: [str(m) for m in v] for k, v in form.errors.items()})
    kind, params = form.cleaned_data["kind"], form.parameters()
    plan = plans.plan(cluster, kind, params)
    if payload.preview:
        return idempotent(request, lambda: preview_answer(plan.statement, "; ".join(plan.problems) or None))

    def run() -> tuple[int, dict[str, Any]]:
        change = request_actions.do_submit(request.user, cluster, kind, params, form.cleaned_data["reason"], plan)
        return 201, as_json(request_out(change))

    return idempotent(request, run)


def _strings(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if v is None or v is False:
            continue  # an unchecked box is an absent one, as in a browser
        out[k] = "on" if v is True else str(v)
    return out


@api.post(
    "/requests/{request_id}/approve",
    response={200: schemas.RequestOut, 202: schemas.RequestOut},
    summary="Approve a request (Admins, not its requester): its job starts (202)",
)
def approve(request: HttpRequest, request_id: int, payload: schemas.DecisionIn) -> HttpResponse:
    require(request, Perm.DECIDE_CHANGE)
    change = request_for(request.user, request_id)
    comment = validated(DecisionForm, payload.dict())["comment"]

    def run() -> tuple[int, dict[str, Any]]:
        decided = request_actions.do_approve(request.user, change, comment)
        return (202 if decided.job_id else 200), as_json(request_out(decided))

    return idempotent(request, run)


@api.post("/requests/{request_id}/reject", response=schemas.RequestOut, summary="Reject a request (Admins)")
def reject(request: HttpRequest, request_id: int, payload: schemas.DecisionIn) -> HttpResponse:
    require(request, Perm.DECIDE_CHANGE)
    change = request_for(request.user, request_id)
    comment = validated(DecisionForm, payload.dict())["comment"]

    def run() -> tuple[int, dict[str, Any]]:
        return 200, as_json(request_out(request_actions.do_reject(request.user, change, comment)))

    return idempotent(request, run)


@api.post("/requests/{request_id}/withdraw", response=schemas.RequestOut, summary="Withdraw your own request")
def withdraw(request: HttpRequest, request_id: int) -> HttpResponse:
    require(request, Perm.REQUEST_CHANGE)
    change = request_for(request.user, request_id)

    def run() -> tuple[int, dict[str, Any]]:
        request_actions.do_withdraw(request.user, change)
        change.refresh_from_db()
        return 200, as_json(request_out(change))

    return idempotent(request, run)
