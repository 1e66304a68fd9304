"""The append-only audit trail."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be changed")


class AuditEntry(models.Model):
    """One change attempted through the app: who, when, where from, what, on what, result, why.

    Append-only: the model refuses updates and deletes, and on PostgreSQL a trigger (migration 0002)
    makes the database refuse them too. Actor and cluster are kept as plain ids plus a snapshot of
    their names, so removing a user or a cluster never rewrites history.
    """

    class Source(models.TextChoices):
        WEB = "web", "web"
        JOB = "job", "job"
        CLI = "cli", "command line"
        API = "api", "API"
        SYSTEM = "system", "system"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        DENIED = "denied", "denied"

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    cluster_name = models.CharField(max_length=63, blank=True)
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=300, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    sql = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    sqlstate = models.CharField(max_length=5, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    job_id = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)  # HMAC-SHA256 over every field and prev_hash (audit.chain)
    key_id = models.CharField(max_length=12, blank=True)  # which CITUSADMIN_AUDIT_KEYS key signed it

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        default_permissions = ()
        permissions = [("view_audit", "Read the audit trail")]
        indexes = [
            # audit list filtered by cluster / action / actor / outcome, newest first (key pagination)
            models.Index(fields=["cluster", "-id"], name="audit_cluster_id"),
            models.Index(fields=["action", "-id"], name="audit_action_id"),
            models.Index(fields=["actor", "-id"], name="audit_actor_id"),
            models.Index(fields=["outcome", "-id"], name="audit_outcome_id"),
            models.Index(fields=["created_at"], name="audit_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")
