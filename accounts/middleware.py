"""Idle session timeout: a session unused for CITUSADMIN_SESSION_IDLE_SECONDS is logged out."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get("last_seen")
            if last is not None and now - int(last) > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(request, "You were signed out after a period of inactivity.")
            else:
                # Write at most once a minute, so polling pages do not rewrite the session each time.
                if last is None or now - int(last) > 60:
                    request.session["last_seen"] = now
        return self.get_response(request)
