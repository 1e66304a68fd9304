"""The red banner on every page when no Celery worker (or no beat) has written a heartbeat lately.
One app-database query every 5 s per process (cached), only when a template shows it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from jobs import heartbeat


def workers(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"worker_status": SimpleLazyObject(heartbeat.cached_status)}
