"""/api/v1/: the console for scripts, over the same action functions, permissions and audit entries as
the pages (django-ninja: typed request and response schemas from the same Python types, the OpenAPI
schema generated from them and validated by pydantic at run time, docs served from its own static
files; chosen over DRF + drf-spectacular because one declaration gives the route, the validation and
the schema).

Authentication: ``Authorization: Bearer <token>`` (a personal token from *My API tokens*); a token
acts as its user with the user's permissions, only reads unless its scope is write, and names itself
in every audit entry (source "api"). Errors are RFC 9457 problem details with Citus's SQLSTATE,
message and hint. Calls that start a job honour ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.models import ApiToken, IdempotentCall
from citusadmin import request_context
from citusadmin.broker import BrokerUnavailable
from citusadmin.citus.errors import CitusError
from citusadmin.perms import Perm
from clusters.lookup import may_see, sees_all_clusters, visible_clusters
from clusters.models import Cluster
from jobs import kinds
from jobs.actions import JobAlreadyRunning, do_cancel_job, do_start_job
from jobs.models import Job, JobLogEntry
from monitoring.collector import latest_finished
from monitoring.models import NodeSnapshot

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        prefix = token.split("_")[1] if token.startswith("cat_") and token.count("_") >= 2 else ""
        found = ApiToken.objects.select_related("user").filter(prefix=prefix).first() if prefix else None
        if found is None or not _same(found.digest, token_digest(token)):
            return None
        if found.revoked_at is not None or found.expires_at <= timezone.now() or not found.user.is_active:
            return None
        if request.method in WRITE_METHODS and found.scope != ApiToken.Scope.WRITE:
            raise HttpError(403, f"The token {found.name} may only read (its scope is read).")
        _throttle(found, request.method or "GET")
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        current = request_context.current()
        request_context.set_current(
            request_context.RequestContext(
                source="api",
                client_ip=current.client_ip,
                request_id=current.request_id,
                api_token=f"{found.name} ({found.prefix})",
            )
        )
        return found


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def _throttle(token: ApiToken, method: str) -> None:
    """At most CITUSADMIN_API_RATE_PER_MINUTE calls a minute per token (a fifth of it for writes)."""
    limit = settings.API_RATE_PER_MINUTE if method not in WRITE_METHODS else max(1, settings.API_RATE_PER_MINUTE // 5)
    minute = int(timezone.now().timestamp() // 60)
    key = f"api-rate:{token.pk}:{method in WRITE_METHODS}:{minute}"
    shared = caches["shared"]  # one count for every web process, not one per process
    shared.add(key, 0, 120)
    if shared.incr(key) > limit:
        raise HttpError(429, f"More than {limit} calls this minute with the token {token.name}: slow down.")


api = NinjaAPI(
    title="citusadmin",
    version="1",
    description=__doc__ or "",
    auth=TokenAuth(),
    urls_namespace="api",
)


def _problem(request: HttpRequest, status: int, title: str, detail: str = "", **extra: Any) -> HttpResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": request.path}
    body.update({k: v for k, v in extra.items() if v not in (None, "")})
    return JsonResponse(body, status=status, content_type="application/problem+json")


@api.exception_handler(CitusError)
def _citus_error(request: HttpRequest, exc: CitusError) -> HttpResponse:
    status = 409 if isinstance(exc, JobAlreadyRunning) else (503 if exc.kind == "connection" else 422)
    extra: dict[str, Any] = {"sqlstate": exc.sqlstate, "citus_message": exc.primary, "hint": exc.hint}
    if isinstance(exc, JobAlreadyRunning) and exc.job is not None:
        extra["job"] = exc.job.pk
    return _problem(request, status, exc.user_message, exc.detail, **extra)


@api.exception_handler(BrokerUnavailable)
def _broker(request: HttpRequest, exc: BrokerUnavailable) -> HttpResponse:
    return _problem(request, 503, exc.user_message, exc.as_text())


@api.exception_handler(PermissionDenied)
def _denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _problem(request, 403, "Permission denied", str(exc))


@api.exception_handler(Http404)
def _missing(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _problem(request, 404, "Not found", str(exc))


@api.exception_handler(HttpError)
def _http(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _problem(request, exc.status_code, str(exc))


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _problem(request, 401, "A valid, unexpired, unrevoked API token is required (Authorization: Bearer).")
    response["WWW-Authenticate"] = 'Bearer realm="citusadmin"'
    return response


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _problem(request, 422, "The request does not match the schema", json.dumps(exc.errors, default=str)[:2000])


def _require(request: HttpRequest, perm: Perm) -> None:
    if not request.user.has_perm(perm):
        from audit.actions import record_denied

        if request.method in WRITE_METHODS:
            record_denied(request.user, perm, target=request.path)
        raise PermissionDenied(f"You do not have the permission {perm}.")


def _cluster(request: HttpRequest, cluster_id: int) -> Cluster:
    _require(request, Perm.VIEW_CLUSTER)
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not may_see(request.user, cluster.pk):
        raise Http404(f"There is no cluster {cluster_id} you may see.")
    return cluster


# --- schemas -------------------------------------------------------------------------------------------


class ClusterOut(Schema):
    id: int
    name: str
    description: str
    host: str
    port: int
    dbname: str


class NodeOut(Schema):
    nodeid: int
    groupid: int
    address: str
    shouldhaveshards: bool
    isactive: bool
    metadatasynced: bool
    reachable: bool | None
    placements: int
    bytes: int | None
    connections: int | None


class NodesOut(Schema):
    cluster: str
    measured_at: datetime | None
    nodes: list[NodeOut]


class TableOut(Schema):
    relid: int
    name: str
    kind: str
    distribution_column: str | None
    colocation_id: int | None
    shard_count: int
    estimated_rows: int


class TablesOut(Schema):
    tables: list[TableOut]
    next_after: str | None


class LogLine(Schema):
    at: datetime
    level: str
    message: str


class JobOut(Schema):
    id: int
    cluster: str
    kind: str
    label: str
    target: str
    state: str
    citus_job_id: int | None
    progress_done: int
    progress_total: int | None
    percent: int | None
    phase: str
    current: str
    error: str
    summary: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str


class JobDetailOut(JobOut):
    log: list[LogLine]


class RebalanceIn(Schema):
    strategy: str | None = None
    transfer_mode: str | None = None
    drain_only: bool = False


def _visible_job(request: HttpRequest, job_id: int) -> Job:
    _require(request, Perm.VIEW_JOB)
    found = Job.objects.select_related("cluster").filter(pk=job_id).first()
    if found is None or not may_see(request.user, found.cluster_id):
        raise Http404(f"There is no job {job_id} you may see.")
    return found


def _job(job: Job) -> dict[str, Any]:
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


# --- read ----------------------------------------------------------------------------------------------


@api.get("/clusters", response=list[ClusterOut], summary="The clusters you may see")
def clusters(request: HttpRequest) -> Any:
    _require(request, Perm.VIEW_CLUSTER)
    return list(visible_clusters(request.user).order_by("name"))


@api.get("/clusters/{cluster_id}/nodes", response=NodesOut, summary="Nodes, as the collector last measured them")
def nodes(request: HttpRequest, cluster_id: int) -> Any:
    cluster = _cluster(request, cluster_id)
    collection = latest_finished(cluster)
    rows = list(NodeSnapshot.objects.filter(collection=collection)) if collection else []
    return {
        "cluster": cluster.name,
        "measured_at": collection.measured_at if collection else None,
        "nodes": [
            {**{f: getattr(n, f) for f in NodeOut.model_fields if f != "address"}, "address": n.address} for n in rows
        ],
    }


@api.get("/clusters/{cluster_id}/tables", response=TablesOut, summary="Citus tables, a keyset page at a time")
def tables(
    request: HttpRequest,
    cluster_id: int,
    after: str = "",
    limit: int = 100,
    in_schema: str = Query("", alias="schema"),
    kind: str = "",
) -> Any:
    from tables import reads

    cluster = _cluster(request, cluster_id)
    limit = min(max(limit, 1), 500)
    start = tuple(after.split(".", 1)) if "." in after else None
    rows = reads.table_page(
        cluster, schema=in_schema or None, kind=kind or None, name=None, after=start, limit=limit + 1, sort="name"
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


@api.get("/jobs", response=list[JobOut], summary="Jobs, newest first (before= for the next page)")
def jobs(request: HttpRequest, cluster: int | None = None, state: str = "", before: int | None = None) -> Any:
    _require(request, Perm.VIEW_JOB)
    found = Job.objects.select_related("cluster").order_by("-id")
    if not sees_all_clusters(request.user):
        found = found.filter(cluster__in=visible_clusters(request.user))
    if cluster is not None:
        found = found.filter(cluster_id=cluster)
    if state:
        found = found.filter(state=state)
    if before is not None:
        found = found.filter(id__lt=before)
    return [_job(j) for j in found[:50]]


@api.get("/jobs/{job_id}", response=JobDetailOut, summary="One job with its progress and its log")
def job(request: HttpRequest, job_id: int) -> Any:
    found = _visible_job(request, job_id)
    lines = JobLogEntry.objects.filter(job=found).order_by("-id")[:200]
    return {
        **_job(found),
        "log": [{"at": e.created_at, "level": e.level, "message": e.message} for e in reversed(list(lines))],
    }


# --- write (the pages' own actions) -----------------------------------------------------------------------


def _idempotent(request: HttpRequest, start: Any) -> HttpResponse:
    """Run ``start`` once per Idempotency-Key of this token; a retry gets the first answer again."""
    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    fingerprint = hashlib.sha256(f"{request.method} {request.path} ".encode() + (request.body or b"")).hexdigest()
    if key:
        seen = IdempotentCall.objects.filter(token=token, key=key).first()
        if seen is not None:
            if seen.fingerprint != fingerprint:
                return _problem(request, 422, "This Idempotency-Key was used for another call.")
            response = JsonResponse(seen.body, status=seen.status, safe=False)
            response["Idempotent-Replayed"] = "true"
            return response
    status, body = start()
    if key:
        from django.db import IntegrityError, transaction

        try:
            with transaction.atomic():
                IdempotentCall.objects.create(token=token, key=key, fingerprint=fingerprint, status=status, body=body)
        except IntegrityError:  # a concurrent retry answered first: give its answer
            seen = IdempotentCall.objects.get(token=token, key=key)
            return JsonResponse(seen.body, status=seen.status, safe=False)
    return JsonResponse(body, status=status, safe=False)


@api.post("/clusters/{cluster_id}/rebalance", response={202: JobOut}, summary="Start a rebalance (a job)")
def rebalance(request: HttpRequest, cluster_id: int, payload: RebalanceIn) -> Any:
    cluster = _cluster(request, cluster_id)

    def start() -> tuple[int, dict[str, Any]]:
        kind = kinds.kind("rebalance")
        started = do_start_job(request.user, cluster, kind, payload.dict(), target=cluster.name)
        started.refresh_from_db()
        return 202, json.loads(json.dumps(_job(started), default=str))

    return _idempotent(request, start)


@api.post("/jobs/{job_id}/cancel", response=JobOut, summary="Cancel a job (finished moves are kept)")
def cancel(request: HttpRequest, job_id: int) -> Any:
    return _job(do_cancel_job(request.user, _visible_job(request, job_id)))


def exempt_from_login(patterns: Any) -> Any:
    """The API authenticates with tokens, not the session: Django's LoginRequiredMiddleware must let it by."""
    for entry in patterns[0]:
        for pattern in getattr(entry, "url_patterns", [entry]):
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                callback.login_required = False
    return patterns
