"""Logins, failed logins, logouts and lockouts go to the audit trail."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.actions import record
from audit.models import AuditEntry
from audit.names import Action


@receiver(user_logged_in, dispatch_uid="audit.login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(user, Action.LOGIN, AuditEntry.Outcome.SUCCEEDED, target=user.get_username())


@receiver(user_logged_out, dispatch_uid="audit.logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(user, Action.LOGOUT, AuditEntry.Outcome.SUCCEEDED, target=user.get_username())


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    record(
        None,
        Action.LOGIN,
        AuditEntry.Outcome.FAILED,
        target=username,
        actor_name=username,
        error="invalid credentials or locked out",
    )


@receiver(user_locked_out, dispatch_uid="audit.locked_out")
def _locked_out(
    sender: Any, request: Any, username: str | None = None, ip_address: str | None = None, **kwargs: Any
) -> None:
    record(
        None,
        Action.LOCKOUT,
        AuditEntry.Outcome.DENIED,
        target=username or "",
        actor_name=username or "",
        error="too many failed logins; locked out",
    )
