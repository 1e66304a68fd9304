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
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.models import ApiToken, IdempotentCall
from citusadmin import request_context
from citusadmin.broker import BrokerUnavailable
from citusadmin.citus.errors import CitusError
from citusadmin.perms import Perm
from clusters.lookup import may_see
from clusters.models import Cluster
from jobs.actions import JobAlreadyRunning

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
        if request.method in WRITE_METHODS:
            _replay_if_answered(request, found)
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


class Replay(Exception):
    """A retried call whose first answer is stored: answered before validation, so a retry gets the
    first answer even when the first call changed what validation sees (a name now taken, a node gone)."""

    def __init__(self, seen: IdempotentCall) -> None:
        super().__init__("replay")
        self.seen = seen


def _fingerprint(request: HttpRequest) -> str:
    return hashlib.sha256(f"{request.method} {request.path} ".encode() + (request.body or b"")).hexdigest()


def _replay_if_answered(request: HttpRequest, token: ApiToken) -> None:
    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    if not key:
        return
    seen = IdempotentCall.objects.filter(token=token, key=key).first()
    if seen is None:
        return
    if seen.fingerprint != _fingerprint(request):
        raise HttpError(422, "This Idempotency-Key was used for another call.")
    if seen.status == _IN_PROGRESS:
        raise HttpError(409, "A call with this Idempotency-Key is still being answered: retry shortly.")
    raise Replay(seen)


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


@api.exception_handler(Replay)
def _replay(request: HttpRequest, exc: Replay) -> HttpResponse:
    response = JsonResponse(exc.seen.body, status=exc.seen.status, safe=False)
    response["Idempotent-Replayed"] = "true"
    return response


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


def exempt_from_login(patterns: Any) -> Any:
    """The API authenticates with tokens, not the session: Django's LoginRequiredMiddleware must let it by."""
    for entry in patterns[0]:
        for pattern in getattr(entry, "url_patterns", [entry]):
            callback = getattr(pattern, "callback", None)
            if callback is not None:
                callback.login_required = False
    return patterns


# --- shared by the routes ------------------------------------------------------------------------------


def require(request: HttpRequest, perm: Perm) -> None:
    """The same permission as the page; a refused change is audited (source "api")."""
    if not request.user.has_perm(perm):
        from audit.actions import record_denied

        if request.method in WRITE_METHODS:
            record_denied(request.user, perm, target=request.path)
        raise PermissionDenied(f"You do not have the permission {perm}.")


def visible_cluster(request: HttpRequest, cluster_id: int) -> Cluster:
    require(request, Perm.VIEW_CLUSTER)
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None or not may_see(request.user, cluster.pk):
        raise Http404(f"There is no cluster {cluster_id} you may see.")
    return cluster


class FormInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid")
        self.errors = errors


@api.exception_handler(FormInvalid)
def _form_invalid(request: HttpRequest, exc: FormInvalid) -> HttpResponse:
    first = next(iter(exc.errors.values()), [""])[0]
    return _problem(request, 422, "The values were refused", first, errors=exc.errors)


def validated(form_class: type[Any], payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The page's own Django form validates the API's values too (one definition of what is valid)."""
    data = {k: _form_value(v) for k, v in payload.items() if v is not None}
    form = form_class(data, **kwargs)
    if not form.is_valid():
        raise FormInvalid({k: [str(m) for m in v] for k, v in form.errors.items()})
    return dict(form.cleaned_data)


def _form_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


_IN_PROGRESS = 0  # the status of a reserved key whose first call has not answered yet


def idempotent(request: HttpRequest, start: Any) -> HttpResponse:
    """Run ``start`` once per Idempotency-Key of this token; a retry gets the first answer again.
    The key is reserved before anything starts, so two concurrent calls with one key start one job:
    the second is told the first is still running (409) and its retry gets the first answer."""
    from django.db import IntegrityError, transaction

    key = request.headers.get("Idempotency-Key", "").strip()[:200]
    if not key:
        status, body = start()
        return JsonResponse(body, status=status, safe=False)
    token: ApiToken = request.api_token  # type: ignore[attr-defined]
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            reserved = IdempotentCall.objects.create(
                token=token, key=key, fingerprint=fingerprint, status=_IN_PROGRESS, body={}
            )
    except IntegrityError:
        seen = IdempotentCall.objects.get(token=token, key=key)
        if seen.fingerprint != fingerprint:
            return _problem(request, 422, "This Idempotency-Key was used for another call.")
        if seen.status == _IN_PROGRESS:
            return _problem(request, 409, "A call with this Idempotency-Key is still being answered: retry shortly.")
        response = JsonResponse(seen.body, status=seen.status, safe=False)
        response["Idempotent-Replayed"] = "true"
        return response
    try:
        status, body = start()
    except BaseException:
        reserved.delete()  # nothing started: a retry with the key may try again
        raise
    IdempotentCall.objects.filter(pk=reserved.pk).update(status=status, body=body)
    return JsonResponse(body, status=status, safe=False)


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
