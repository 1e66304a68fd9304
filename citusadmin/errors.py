"""Friendly error pages, never a traceback."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You do not have permission for this."
    return HttpResponse(render_to_string("403.html", {"message": message}, request=request), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return HttpResponse(render_to_string("404.html", {}, request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: the failure may be in a context processor.
    return HttpResponse(render_to_string("500.html", {"request_id": getattr(request, "request_id", "")}), status=500)
