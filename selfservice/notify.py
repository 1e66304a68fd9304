"""In-app notifications, mirrored by e-mail when e-mail is configured. Never fails the caller."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db.models import Q

from selfservice.models import Notification

logger = logging.getLogger(__name__)


def notify(users: Iterable[Any], text: str, url: str = "") -> int:
    recipients = [u for u in users if u is not None and u.is_active]
    Notification.objects.bulk_create([Notification(user=u, text=text[:500], url=url) for u in recipients])
    if settings.NOTIFY_BY_EMAIL:
        addresses = [u.email for u in recipients if u.email]
        if addresses:
            try:
                send_mail(f"[citusadmin] {text[:120]}", f"{text}\n\n{url}", None, addresses, fail_silently=False)
            except Exception as exc:  # a mail server down must not undo a decision or a job end
                logger.warning("notification e-mail not sent: %s", type(exc).__name__)
    return len(recipients)


def deciders(exclude: Any = None) -> list[User]:
    """Active users who may approve requests (by group or directly), except ``exclude``."""
    perm = Q(groups__permissions__codename="decide_change", groups__permissions__content_type__app_label="selfservice")
    direct = Q(user_permissions__codename="decide_change", user_permissions__content_type__app_label="selfservice")
    users = User.objects.filter(is_active=True).filter(perm | direct | Q(is_superuser=True)).distinct()
    if exclude is not None:
        users = users.exclude(pk=exclude.pk)
    return list(users)


def job_finished(job: Any) -> None:
    """Tell the requester (and the approver) how the job of an approved request ended."""
    request = getattr(job, "change_request", None)
    if request is None:
        return
    text = f"Request {request.pk} ({request.get_kind_display()} {request.target}): job {job.pk} {job.state}."
    if job.error:
        text += f" {job.error[:200]}"
    notify([request.requested_by, request.decided_by], text, f"/requests/{request.pk}/")


def on_job_finished(sender: Any, job: Any, **kwargs: Any) -> None:
    """``jobs.signals.job_finished``: only the jobs of approved requests concern self-service."""
    if job.approved_by_id is not None:
        job_finished(job)
