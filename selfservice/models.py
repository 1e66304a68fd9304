"""Changes asked for by application teams, decided by an Admin who is not the requester."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from clusters.models import Cluster


class ChangeRequest(models.Model):
    """One change asked for on one cluster, with what its pre-check said when it was asked and when
    it was decided. The SQL shown is the SQL that runs; the check is run again at approval."""

    class Kind(models.TextChoices):
        DISTRIBUTE = "distribute", "Distribute a table"
        REFERENCE = "reference", "Make a reference table"
        SHARD_COUNT = "shard_count", "Change a shard count"
        ANALYZE = "analyze", "Run ANALYZE"
        REBALANCE = "rebalance", "Rebalance the cluster"
        SWITCHOVER = "switchover", "Switch a Patroni group over to another member"

    class State(models.TextChoices):
        PENDING = "pending", "waiting for approval"
        APPROVED = "approved", "approved"
        REJECTED = "rejected", "rejected"
        WITHDRAWN = "withdrawn", "withdrawn"

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="change_requests")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    target = models.CharField(max_length=300, blank=True)  # schema.table, or '' for the cluster
    parameters = models.JSONField(default=dict, blank=True)
    statement = models.TextField()  # the exact SQL the job will send
    reason = models.TextField(blank=True)
    problems = models.JSONField(default=list, blank=True)  # the latest pre-check's refusals
    warnings = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="change_request"
    )

    class Meta:
        default_permissions = ()
        permissions = [
            ("request_change", "Ask for a change on a cluster one can see"),
            ("decide_change", "Approve or reject other people's change requests"),
        ]
        indexes = [
            models.Index(fields=["state", "-id"], name="changereq_state_id"),
            models.Index(fields=["requested_by", "-id"], name="changereq_requester_id"),
            models.Index(fields=["cluster", "-id"], name="changereq_cluster_id"),
        ]

    def __str__(self) -> str:
        return f"request {self.pk}: {self.get_kind_display()} {self.target}"

    @property
    def passes(self) -> bool:
        return not self.problems


class Notification(models.Model):
    """A line in a user's inbox; also e-mailed when e-mail is configured."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["user", "read_at", "-id"], name="notification_inbox")]

    def __str__(self) -> str:
        return self.text
