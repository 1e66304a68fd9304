"""The unread-notification count in the layout: one indexed count, only for users who get them, and
only when a template shows it (polled fragments, such as a job's progress, never pay for it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from citusadmin.perms import Perm
from selfservice.models import Notification


def inbox(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not (user.has_perm(Perm.REQUEST_CHANGE) or user.has_perm(Perm.DECIDE_CHANGE)):
        return {}
    return {
        "unread_notifications": SimpleLazyObject(
            lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()
        )
    }
