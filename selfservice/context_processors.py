"""The unread-notification count in the layout: one indexed count, only for users who get them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from selfservice.models import Notification


def inbox(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if not (user.has_perm("selfservice.request_change") or user.has_perm("selfservice.decide_change")):
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}
