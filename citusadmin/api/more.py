"""The rest of what the pages change, through the same actions: coordinator host, Citus's cleanup,
schema-based sharding, sessions (cancel / terminate), statistics reset, refresh now, alert
acknowledgement, and Patroni (the HA page's read, switchover as a job, restart / reinitialize /
pause / resume). Every change takes ``preview: true`` and ``Idempotency-Key`` like the others."""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Schema
from pydantic import Field

from citusadmin.api import schemas
from citusadmin.api.core import api, as_json, idempotent, require, validated, visible_cluster
from citusadmin.api.reads import job_out
from citusadmin.api.writes import done_answer, preview_answer
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus import patroni
from citusadmin.citus import tables as citus_tables
from citusadmin.citus.errors import Refused
from citusadmin.perms import Perm
from clusters import ha, ha_actions
from clusters.lookup import may_see
from jobs import kinds
from jobs.actions import do_start_job
from jobs.kinds.switchover import refusal
from monitoring import actions as monitoring_actions
from monitoring.models import Alert
from nodes import actions as node_actions
from nodes.forms import HostPortForm
from tables import actions as table_actions
from tables import reads as table_reads


class PreviewIn(Schema):
    preview: bool = False


class HostPortIn(PreviewIn):
    host: str = Field(max_length=253)
    port: int = 5432


class ResetIn(PreviewIn):
    tenants: bool = Field(False, description="reset citus_stat_tenants instead of citus_stat_statements")


class AcknowledgeIn(Schema):
    comment: str = Field(min_length=1, max_length=1000)


class SwitchoverIn(PreviewIn):
    candidate: str = Field(max_length=100)
    scheduled_at: str | None = Field(None, max_length=40, description="ISO 8601; empty: now")


class MemberIn(PreviewIn):
    member: str = Field("", max_length=100, description="restart / reinitialize: the member")


class PatroniOut(Schema):
    source: str | None
    scope: str | None
    version: str | None
    members: list[dict[str, Any]]
    findings: list[str]
    paused_groups: list[int]
    error: str
    read_at: Any


CHANGED = {200: schemas.DoneOut | schemas.PreviewOut}


@api.post("/clusters/{cluster_id}/coordinator", response=CHANGED, summary="Register the coordinator's host")
def coordinator(request: HttpRequest, cluster_id: int, payload: HostPortIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.SET_COORDINATOR_HOST)
    data = validated(HostPortForm, payload.dict(exclude={"preview"}))
    shown = citus_nodes.render(citus_nodes.set_coordinator_host_sql(data["host"], data["port"]))
    if payload.preview:
        return idempotent(request, lambda: preview_answer(shown))

    def run() -> tuple[int, dict[str, Any]]:
        node_actions.do_set_coordinator_host(request.user, cluster, data["host"], data["port"])
        return done_answer(f"The coordinator is registered as {data['host']}:{data['port']}.", shown)

    return idempotent(request, run)


@api.post("/clusters/{cluster_id}/cleanup", response=CHANGED, summary="Run Citus's cleanup of deferred drops")
def cleanup(request: HttpRequest, cluster_id: int, payload: PreviewIn) -> HttpResponse:
    from citusadmin.citus import cleanup as citus_cleanup

    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.REMOVE_NODE)
    shown = citus_cleanup.cleanup_sql().as_string()
    if payload.preview:
        return idempotent(request, lambda: preview_answer(shown))

    def run() -> tuple[int, dict[str, Any]]:
        left = node_actions.do_run_cleanup(request.user, cluster)
        return done_answer(f"{left} record(s) left in pg_dist_cleanup.", shown)

    return idempotent(request, run)


@api.post(
    "/clusters/{cluster_id}/schemas/{name}/{operation}",
    response=CHANGED,
    summary="Schema-based sharding (Citus 12+): distribute or undistribute a schema",
)
def schema_change(
    request: HttpRequest,
    cluster_id: int,
    name: str,
    operation: Literal["distribute", "undistribute"],
    payload: PreviewIn,
) -> HttpResponse:
    schema = name
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.DISTRIBUTE_SCHEMA)
    rows, supported = table_reads.schemas(cluster)
    row = next((r for r in rows if r.name == schema), None)
    if row is None:
        raise Http404(f"There is no schema {schema[:63]} in {cluster.name}.")
    if not supported:
        raise Refused("This cluster has no schema-based sharding (Citus 12.0+).")
    undistribute = operation == "undistribute"
    if row.distributed != undistribute:
        raise Refused(f"Schema {schema} is {'not ' if undistribute else 'already '}distributed.")
    statement = citus_tables.schema_distribute_sql(schema, undistribute=undistribute)
    if payload.preview:
        return idempotent(request, lambda: preview_answer(statement.as_string()))

    def run() -> tuple[int, dict[str, Any]]:
        table_actions.do_distribute_schema(request.user, cluster, schema, statement, undistribute)
        return done_answer(
            f"Schema {schema} is {'no longer' if undistribute else 'now'} distributed.", statement.as_string()
        )

    return idempotent(request, run)


@api.post(
    "/clusters/{cluster_id}/sessions/{global_pid}/{signal}",
    response=CHANGED,
    summary="Cancel a session's query or terminate the session (by Citus global pid)",
)
def signal_session(
    request: HttpRequest, cluster_id: int, global_pid: int, signal: Literal["cancel", "terminate"]
) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    terminate = signal == "terminate"
    require(request, Perm.TERMINATE_SESSION if terminate else Perm.CANCEL_SESSION)
    if not 0 < global_pid < 2**63:
        raise Refused("A global pid is a positive number (Activity shows it).")

    def run() -> tuple[int, dict[str, Any]]:
        from citusadmin.citus import monitoring

        statement = (monitoring.terminate_sql if terminate else monitoring.cancel_sql)(global_pid).as_string()
        done = monitoring_actions.do_signal_backend(request.user, cluster, global_pid, terminate=terminate)
        text = "signalled" if done else "no such session any more, or PostgreSQL refused; nothing changed"
        return done_answer(f"Global pid {global_pid}: {text}.", statement)

    return idempotent(request, run)


@api.post("/clusters/{cluster_id}/statistics/reset", response=CHANGED, summary="Reset query or tenant statistics")
def reset_statistics(request: HttpRequest, cluster_id: int, payload: ResetIn) -> HttpResponse:
    from citusadmin.citus import monitoring

    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.RESET_STATS)
    shown = (monitoring.reset_tenants_sql() if payload.tenants else monitoring.reset_statements_sql()).as_string()
    if payload.preview:
        return idempotent(request, lambda: preview_answer(shown))

    def run() -> tuple[int, dict[str, Any]]:
        monitoring_actions.do_reset_stats(request.user, cluster, tenants=payload.tenants)
        return done_answer("Tenant statistics reset." if payload.tenants else "Query statistics reset.", shown)

    return idempotent(request, run)


@api.post("/clusters/{cluster_id}/refresh", response=CHANGED, summary="Measure the cluster now (the collector)")
def refresh(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.COLLECT_NOW)

    def run() -> tuple[int, dict[str, Any]]:
        queued = monitoring_actions.do_refresh_now(request.user, cluster)
        return done_answer("Queued." if queued else "Already queued; nothing added.", "")

    return idempotent(request, run)


@api.post("/alerts/{alert_id}/acknowledge", response=CHANGED, summary="Acknowledge an alert with a comment")
def acknowledge(request: HttpRequest, alert_id: int, payload: AcknowledgeIn) -> HttpResponse:
    require(request, Perm.ACKNOWLEDGE_ALERT)
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None or (alert.cluster_id is not None and not may_see(request.user, alert.cluster_id)):
        raise Http404(f"There is no alert {alert_id} you may see.")
    comment = payload.comment.strip()
    if not comment:
        raise Refused("Say what you are doing about it (the comment is kept with the alert).")

    def run() -> tuple[int, dict[str, Any]]:
        done = monitoring_actions.do_acknowledge_alert(request.user, alert.pk, comment)
        return done_answer(f"Alert {done.pk} is {done.state}.", "")

    return idempotent(request, run)


# --- Patroni ---------------------------------------------------------------------------------------------------


@api.get("/clusters/{cluster_id}/patroni", response=PatroniOut, summary="Patroni's view beside pg_dist_node")
def patroni_state(request: HttpRequest, cluster_id: int) -> Any:
    cluster = visible_cluster(request, cluster_id)
    if not cluster.has_patroni:
        raise Http404(f"{cluster.name} is not registered as a Patroni-managed cluster.")
    state = ha.shared(cluster)
    findings = [f.text for f in state.findings] + [
        f"group {g.group}: {f.text}" for g in state.groups for f in g.findings
    ]
    return {
        "source": state.topology.source if state.topology else None,
        "scope": state.topology.scope if state.topology else None,
        "version": state.topology.version if state.topology else None,
        "members": as_json(ha.as_rows(state)),
        "findings": findings,
        "paused_groups": [g.group for g in state.groups if g.paused],
        "error": state.error,
        "read_at": state.read_at,
    }


def _patroni_group(cluster: Any, group: int) -> tuple[patroni.Topology, patroni.Group]:
    if not cluster.has_patroni:
        raise Http404(f"{cluster.name} is not registered as a Patroni-managed cluster.")
    topology = patroni.read(ha.access(cluster))
    found = topology.group(group)
    if found is None:
        raise Http404(f"Patroni manages no group {group} in {cluster.name}.")
    return topology, found


@api.post(
    "/clusters/{cluster_id}/patroni/{group}/switchover",
    response={200: schemas.PreviewOut, 202: schemas.JobOut},
    summary="Switch a Citus group's Patroni leader over to a member (a job)",
)
def switchover(request: HttpRequest, cluster_id: int, group: int, payload: SwitchoverIn) -> HttpResponse:
    from datetime import datetime

    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.PATRONI_SWITCHOVER)
    topology, found = _patroni_group(cluster, group)
    try:
        at = datetime.fromisoformat(payload.scheduled_at) if payload.scheduled_at else None
    except ValueError:
        raise Refused("scheduled_at: give an ISO 8601 time, for example 2026-12-01T02:00:00+00:00.") from None
    why = refusal(topology, group, payload.candidate, settings.PATRONI_LAG_WARN_BYTES)
    if payload.preview:
        shown = str(patroni.switchover_call(found, payload.candidate, at)) if not why else ""
        return idempotent(request, lambda: preview_answer(shown, why))
    if why:
        raise Refused(why)
    params = {"group": group, "candidate": payload.candidate, "scheduled_at": at.isoformat() if at else None}

    def run() -> tuple[int, dict[str, Any]]:
        job = do_start_job(request.user, cluster, kinds.KINDS["patroni_switchover"], params, target=f"group {group}")
        job.refresh_from_db()
        return 202, as_json(job_out(job))

    return idempotent(request, run)


@api.post(
    "/clusters/{cluster_id}/patroni/{group}/{operation}",
    response=CHANGED,
    summary="Restart or reinitialize a member (member=), pause or resume automatic failover of a group",
)
def patroni_operation(
    request: HttpRequest,
    cluster_id: int,
    group: int,
    operation: Literal["restart", "reinitialize", "pause", "resume"],
    payload: MemberIn,
) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.PATRONI_MANAGE)
    _, found = _patroni_group(cluster, group)
    call, why, target = ha_actions.plan(found, operation, payload.member)
    if payload.preview:
        return idempotent(request, lambda: preview_answer(str(call) if call else "", why))
    if why or call is None:
        raise Refused(why or "Nothing to send.")

    def run() -> tuple[int, dict[str, Any]]:
        answer = ha_actions.do_patroni_call(request.user, cluster, operation, call, target)
        return done_answer(f"Patroni: {answer or 'accepted'}", str(call))

    return idempotent(request, run)
