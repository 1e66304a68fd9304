"""Project middleware: request context for the audit trail, and Citus errors as pages."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django_htmx.http import HttpResponseClientRedirect

from citusadmin import request_context
from citusadmin.citus.errors import CitusError

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str | None:
    if settings.SECURE_PROXY_SSL_HEADER:  # behind a trusted proxy: take the address it saw
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


class RequestContextMiddleware:
    """Gives each request an id (echoed as X-Request-ID) and records where it came from."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_context.set_current(
            request_context.RequestContext(source="web", client_ip=client_ip(request), request_id=request_id)
        )
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = request_id
        return response


class CitusErrorMiddleware:
    """A CitusError that escapes a view becomes a page with the reason, never a traceback."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, CitusError):
            return None
        logger.warning("cluster error on %s: %s", request.path, exception.as_text())
        template = "_error_fragment.html" if getattr(request, "htmx", False) else "cluster_error.html"
        return render(request, template, {"error": exception}, status=503)


class HtmxLoginRedirectMiddleware:
    """An htmx request whose session ended gets a full-page redirect to login, not a login form
    swapped into a fragment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response


class RejectNulMiddleware:
    """A NUL character in a query-string or form value answers 400. PostgreSQL refuses NUL in every
    string (the app database and Citus alike), so without this any filter could become a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        data = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            data.append(request.POST)
        for query in data:
            for key, values in query.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    return HttpResponse(
                        "Bad request: a value contains a NUL character.", status=400, content_type="text/plain"
                    )
        return self.get_response(request)


class ApiProblemMiddleware:
    """Under /api/ every error is an RFC 9457 problem, also those Django or the router answer before
    the API's own handlers run (405 for a method a route lacks, 400 for a body that cannot be parsed,
    a NUL refused above)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith(("application/problem+json", "application/json"))
        ):
            from http import HTTPStatus

            from django.http import JsonResponse

            title = HTTPStatus(response.status_code).phrase if response.status_code in HTTPStatus else "Error"
            problem = JsonResponse(
                {"type": "about:blank", "title": title, "status": response.status_code, "instance": request.path},
                status=response.status_code,
                content_type="application/problem+json",
            )
            if response.has_header("Allow"):
                problem["Allow"] = response["Allow"]
            return problem
        return response
