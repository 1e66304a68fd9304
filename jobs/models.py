"""Jobs: the app database is the truth about long-running work (Celery only carries the signal)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from clusters.models import Cluster


class Job(models.Model):
    """One long action on a cluster.

    State machine::

        queued ──► running ──► succeeded
          │          │  ╰────► failed
          │          │  ╰────► interrupted   (the worker died during blocking work; never re-run by itself)
          │          ╰──► cancelling ──► cancelled (or succeeded/failed if Citus finished first)
          ╰──► failed (could not be queued: broker down)   ╰──► cancelled (cancelled before it started)

    ``queued``: the row exists and a task was published after commit. ``running``: a runner holds the
    lease (``lease_owner``/``lease_until``, renewed every second). Where Citus runs the work itself
    (``citus_rebalance_start``) the Citus job id is stored and a supervisor mirrors its status in
    slices of under a minute; if the lease lapses (worker killed) the sweep re-attaches a new
    supervisor to the same Citus job. Blocking work (``rebalance_table_shards``,
    ``alter_distributed_table``, VACUUM) holds a database session: if its runner dies the session
    ends within seconds (``client_connection_check_interval``) and the job becomes ``interrupted``.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        CANCELLING = "cancelling", "cancelling"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        CANCELLED = "cancelled", "cancelled"
        INTERRUPTED = "interrupted", "interrupted"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING, State.CANCELLING)
    FINAL_STATES = (State.SUCCEEDED, State.FAILED, State.CANCELLED, State.INTERRUPTED)

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="jobs")
    # the name of a kind declared in jobs.kinds (a class there; no choices here, so a new kind needs no
    # migration)
    kind = models.CharField(max_length=30)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    # Jobs sharing a non-empty lock cannot be active on one cluster at once (partial unique index):
    # Citus runs one rebalance, drain or shard move at a time.
    lock = models.CharField(max_length=30, blank=True)
    target = models.CharField(max_length=300, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    citus_job_id = models.BigIntegerField(null=True, blank=True)
    backend_pid = models.IntegerField(null=True, blank=True)
    application_name = models.CharField(max_length=63, blank=True)
    lease_owner = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    resume_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_sent = models.BooleanField(default=False)
    # progress, as last mirrored from Citus at progress_at
    progress_done = models.IntegerField(default=0)
    progress_total = models.IntegerField(null=True, blank=True)
    bytes_done = models.BigIntegerField(null=True, blank=True)
    bytes_total = models.BigIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=60, blank=True)
    current = models.CharField(max_length=300, blank=True)
    retries = models.IntegerField(default=0)
    retry_message = models.TextField(blank=True)
    citus_state = models.CharField(max_length=20, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    coordinator_error = models.TextField(blank=True)
    error = models.TextField(blank=True)
    summary = models.TextField(blank=True)

    class Meta:
        default_permissions = ()
        permissions = [
            ("view_job", "See jobs and their progress"),
            ("start_rebalance", "Start a rebalance or a drain"),
            ("start_maintenance", "Start VACUUM, ANALYZE or a health check"),
            ("drain_node", "Drain a node (move its shards away)"),
            ("alter_table", "Change a table's shard count or distribute it concurrently"),
            ("cancel_job", "Cancel a running job"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "lock"],
                condition=Q(state__in=["queued", "running", "cancelling"]) & ~Q(lock=""),
                name="one_active_job_per_lock",
            )
        ]
        indexes = [
            # jobs list: newest first, filtered by cluster / state / kind
            models.Index(fields=["cluster", "-id"], name="job_cluster_id"),
            models.Index(fields=["state", "-id"], name="job_state_id"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.state}"

    @property
    def spec(self) -> Any:
        """The job's kind (``jobs.kinds``): its label, permission, mode and statements."""
        from jobs.kinds import kind

        return kind(self.kind)

    def get_kind_display(self) -> str:
        from jobs.kinds import KINDS

        found = KINDS.get(self.kind)
        return found.label if found is not None else self.kind

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def percent(self) -> int | None:
        if self.state == self.State.SUCCEEDED:
            return 100
        if not self.progress_total:
            return None
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def elapsed_seconds(self) -> int | None:
        if self.started_at is None:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return int((end - self.started_at).total_seconds())

    @property
    def stalled(self) -> bool:
        """Active, but no runner holds it: still queued, or its lease lapsed (the worker stopped)."""
        from django.utils import timezone

        if not self.is_active:
            return False
        return self.state == self.State.QUEUED or (self.lease_until is not None and self.lease_until < timezone.now())

    @property
    def eta_seconds(self) -> int | None:
        """Time left, from the pace so far (moves done per second). None whenever the pace says nothing
        about the future: a task is retrying, the coordinator is away, or no worker follows the job."""
        elapsed = self.elapsed_seconds
        if not self.is_active or not elapsed or not self.progress_total or self.progress_done <= 0:
            return None
        if self.retry_message or self.coordinator_error or self.stalled:
            return None
        remaining = self.progress_total - self.progress_done
        return int(elapsed / self.progress_done * remaining)


class JobLogEntry(models.Model):
    """One line of a job's log; pages read them incrementally (``?after=<id>``)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log")
    created_at = models.DateTimeField(auto_now_add=True)
    level = models.CharField(max_length=8, default="info")
    message = models.TextField()

    class Meta:
        default_permissions = ()
        ordering = ["id"]
        indexes = [models.Index(fields=["job", "id"], name="joblog_job_id")]

    def __str__(self) -> str:
        return self.message[:80]


class WorkerHeartbeat(models.Model):
    """The last sign of life of one Celery worker or beat process (jobs.heartbeat writes it every
    ``WORKER_HEARTBEAT_SECONDS`` from a thread of the process itself). When no worker has written for
    ``WORKER_STALE_SECONDS``, every page, the Health page and each waiting job say so."""

    class Kind(models.TextChoices):
        WORKER = "worker", "worker"
        BEAT = "beat", "beat"

    name = models.CharField(max_length=200, unique=True)  # Celery node name (worker) or "beat@host"
    kind = models.CharField(max_length=10, choices=Kind.choices)
    queues = models.CharField(max_length=300, blank=True)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        indexes = [
            # the banner on every page: newest heartbeat of each kind
            models.Index(fields=["kind", "-seen_at"], name="heartbeat_kind_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"
