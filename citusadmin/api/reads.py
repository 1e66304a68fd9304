"""The API's reads: the same read layer and visibility rules as the pages."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query

from audit.models import AuditEntry
from citusadmin.api import schemas
from citusadmin.api.core import api, require, visible_cluster
from citusadmin.citus.errors import CitusError
from citusadmin.pagination import keyset_page
from citusadmin.perms import Perm
from clusters.lookup import may_see, sees_all_clusters, visible_clusters
from jobs.models import Job, JobLogEntry
from monitoring import figures
from monitoring.collector import latest_finished
from monitoring.models import NodeSnapshot
from selfservice.models import ChangeRequest
from selfservice.reads import request_for, visible_requests

PAGE = 50


def job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "cluster": job.cluster.name,
        "kind": job.kind,
        "label": job.get_kind_display(),
        "target": job.target,
        "state": job.state,
        "citus_job_id": job.citus_job_id,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "percent": job.percent,
        "phase": job.phase,
        "current": job.current,
        "error": job.error,
        "summary": job.summary,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": f"/api/v1/jobs/{job.pk}",
    }


def request_out(change: ChangeRequest) -> dict[str, Any]:
    return {
        "id": change.pk,
        "cluster": change.cluster.name,
        "kind": change.kind,
        "label": change.get_kind_display(),
        "target": change.target,
        "parameters": change.parameters,
        "statement": change.statement,
        "reason": change.reason,
        "problems": [str(p) for p in change.problems],
        "warnings": [str(w) for w in change.warnings],
        "checked_at": change.checked_at,
        "state": change.state,
        "requested_by": change.requested_by_name,
        "requested_at": change.requested_at,
        "decided_by": change.decided_by_name,
        "decided_at": change.decided_at,
        "comment": change.comment,
        "job": change.job_id,
    }


def visible_job(request: HttpRequest, job_id: int) -> Job:
    from django.http import Http404

    require(request, Perm.VIEW_JOB)
    found = Job.objects.select_related("cluster").filter(pk=job_id).first()
    if found is None or not may_see(request.user, found.cluster_id):
        raise Http404(f"There is no job {job_id} you may see.")
    return found


@api.get("/clusters", response=list[schemas.ClusterOut], summary="The clusters you may see")
def clusters(request: HttpRequest) -> Any:
    require(request, Perm.VIEW_CLUSTER)
    return list(visible_clusters(request.user).order_by("name"))


@api.get(
    "/clusters/{cluster_id}/nodes", response=schemas.NodesOut, summary="Nodes, as the collector last measured them"
)
def nodes(request: HttpRequest, cluster_id: int) -> Any:
    cluster = visible_cluster(request, cluster_id)
    collection = latest_finished(cluster)
    rows = list(NodeSnapshot.objects.filter(collection=collection)) if collection else []
    fields = [f for f in schemas.NodeOut.model_fields if f != "address"]
    return {
        "cluster": cluster.name,
        "measured_at": collection.measured_at if collection else None,
        "nodes": [{**{f: getattr(n, f) for f in fields}, "address": n.address} for n in rows],
    }


@api.get("/clusters/{cluster_id}/tables", response=schemas.TablesOut, summary="Citus tables, a keyset page at a time")
def tables(
    request: HttpRequest,
    cluster_id: int,
    after: str = "",
    limit: int = 100,
    in_schema: str = Query("", alias="schema", max_length=63),
    kind: str = Query("", max_length=40),
    name: str = Query("", max_length=63, description="name contains"),
) -> Any:
    from tables import reads

    cluster = visible_cluster(request, cluster_id)
    limit = min(max(limit, 1), 500)
    start = tuple(after.split(".", 1)) if "." in after else None
    rows = reads.table_page(
        cluster,
        schema=in_schema or None,
        kind=kind or None,
        name=name or None,
        after=start,
        limit=limit + 1,
        sort="name",
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "tables": [
            {
                "relid": r.relid,
                "name": r.display,
                "kind": r.kind,
                "distribution_column": r.distribution_column,
                "colocation_id": r.colocation_id,
                "shard_count": r.shard_count,
                "estimated_rows": r.estimated_rows,
            }
            for r in rows
        ],
        "next_after": f"{rows[-1].schema}.{rows[-1].name}" if more and rows else None,
    }


@api.get(
    "/clusters/{cluster_id}/tables/{relid}",
    response=schemas.TableDetailOut,
    summary="One table with its shards and where they are (a keyset page of shards)",
)
def table(request: HttpRequest, cluster_id: int, relid: int, shard_after: int | None = None, limit: int = 100) -> Any:
    from django.http import Http404

    from tables import reads

    cluster = visible_cluster(request, cluster_id)
    limit = min(max(limit, 1), 1000)
    info, shards = reads.table_with_shards(cluster, relid, after=shard_after, limit=limit + 1)
    if info is None:
        raise Http404(f"There is no table {relid} in {cluster.name} (any more).")
    more = len(shards) > limit
    shards = shards[:limit]
    return {
        "relid": info.relid,
        "name": info.display,
        "kind": info.kind,
        "owner": info.owner,
        "distribution_column": info.distribution_column,
        "colocation_id": info.colocation_id,
        "colocated_with": info.colocated,
        "estimated_rows": info.estimated_rows,
        "columns": [c.name for c in info.columns],
        "shards": [
            {"shardid": s.shardid, "min_value": s.shardminvalue, "max_value": s.shardmaxvalue, "nodes": s.nodes}
            for s in shards
        ],
        "next_shard_after": shards[-1].shardid if more and shards else None,
        "read_at": timezone.now(),
    }


@api.get(
    "/clusters/{cluster_id}/colocations",
    response=schemas.ColocationsOut,
    summary="Co-location groups with their tables and placements per node",
)
def colocations(request: HttpRequest, cluster_id: int, after: int | None = None, limit: int = 50) -> Any:
    from tables import reads

    cluster = visible_cluster(request, cluster_id)
    groups, node_rows, placements, more = reads.colocation_page(cluster, after=after, size=min(max(limit, 1), 200))
    where = {n.groupid: n.address for n in node_rows if n.noderole == "primary"}
    counts: dict[int, Counter[str]] = {}
    for p in placements:
        counts.setdefault(p.colocation_id, Counter())[where.get(p.groupid, f"group {p.groupid}")] += 1
    return {
        "groups": [
            {
                "colocation_id": g.colocation_id,
                "caption": g.caption,
                "shard_count": g.shard_count,
                "column_type": g.column_type,
                "tables": g.tables,
                "placements_per_node": dict(counts.get(g.colocation_id, Counter())),
            }
            for g in groups
        ],
        "next_after": groups[-1].colocation_id if more and groups else None,
        "read_at": timezone.now(),
    }


@api.get(
    "/clusters/{cluster_id}/health",
    response=schemas.HealthOut,
    summary="The health checks (the Health page's, shared with its viewers: no extra fan-out)",
)
def health(request: HttpRequest, cluster_id: int) -> Any:
    require(request, Perm.VIEW_MONITORING)
    cluster = visible_cluster(request, cluster_id)
    values = figures.shared_values(cluster, "health")
    if "error" in values:
        error = values["error"]
        text = error.page_text() if isinstance(error, CitusError) else str(error)
        return {"cluster": cluster.name, "overall": "unknown", "checks": [], "error": text, "read_at": timezone.now()}
    figures.with_console_checks(cluster, values)
    return {
        "cluster": cluster.name,
        "overall": values["overall"],
        "checks": [
            {f: getattr(c, f) for f in ("key", "title", "status", "reason", "fix", "measured")}
            for c in values["checks"]
        ],
        "read_at": timezone.now(),
    }


@api.get("/jobs", response=list[schemas.JobOut], summary="Jobs, newest first (before= for the next page)")
def jobs(request: HttpRequest, cluster: int | None = None, state: str = "", before: int | None = None) -> Any:
    require(request, Perm.VIEW_JOB)
    found = Job.objects.select_related("cluster").order_by("-id")
    if not sees_all_clusters(request.user):
        found = found.filter(cluster__in=visible_clusters(request.user))
    if cluster is not None:
        found = found.filter(cluster_id=cluster)
    if state:
        found = found.filter(state=state)
    if before is not None:
        found = found.filter(id__lt=before)
    return [job_out(j) for j in found[:PAGE]]


@api.get("/jobs/{job_id}", response=schemas.JobDetailOut, summary="One job with its progress and its log")
def job(request: HttpRequest, job_id: int) -> Any:
    found = visible_job(request, job_id)
    lines = JobLogEntry.objects.filter(job=found).order_by("-id")[:200]
    return {
        **job_out(found),
        "log": [{"at": e.created_at, "level": e.level, "message": e.message} for e in reversed(list(lines))],
    }


@api.get(
    "/audit",
    response=schemas.AuditPageOut,
    summary="Audit entries, newest first (Auditors): the Audit page's filters; before= for the next page",
)
def audit(
    request: HttpRequest,
    since: str = "",
    until: str = "",
    actor: str = "",
    cluster: str = "",
    action: str = "",
    target: str = "",
    outcome: str = "",
    q: str = "",
    job: str = "",
    before: str = "",
) -> Any:
    from audit.reads import filtered

    require(request, Perm.VIEW_AUDIT)
    entries, _ = filtered(request)
    page, next_before = keyset_page(entries, before, PAGE)
    return {"entries": [_audit_out(e) for e in page], "next_before": next_before}


def _audit_out(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.pk,
        "created_at": e.created_at,
        "actor": e.actor_name,
        "source": e.source,
        "client_ip": e.client_ip,
        "cluster": e.cluster_name,
        "action": e.action,
        "target": e.target,
        "parameters": e.parameters,
        "sql": e.sql,
        "outcome": e.outcome,
        "error": e.error,
        "sqlstate": e.sqlstate,
        "duration_ms": e.duration_ms,
        "job_id": e.job_id,
    }


@api.get(
    "/requests",
    response=schemas.RequestsOut,
    summary="Change requests: your own, or every one on your clusters for Admins (before= for the next page)",
)
def requests(request: HttpRequest, state: str = "", before: str = "") -> Any:
    changes = visible_requests(request.user)
    if state in ChangeRequest.State.values:
        changes = changes.filter(state=state)
    page, next_before = keyset_page(changes, before, PAGE)
    return {"requests": [request_out(c) for c in page], "next_before": next_before}


@api.get("/requests/{request_id}", response=schemas.RequestOut, summary="One change request")
def change_request(request: HttpRequest, request_id: int) -> Any:
    return request_out(request_for(request.user, request_id))
