"""Starting a job: the entry point of the ``run_job`` task.

The rest lives by concern: ``jobs.state`` (leases, log, end, audit of what is sent),
``jobs.supervisor`` (Citus background jobs), ``jobs.blocking`` (a session held until done),
``jobs.sweep`` (what a dead runner left), and each kind's own module in ``jobs.kinds``.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from jobs.blocking import run_blocking
from jobs.kinds import Mode, kind
from jobs.models import Job
from jobs.state import application_name, finish, lease_seconds, new_token
from jobs.supervisor import supervise


def start(job_id: int) -> None:
    """Begin a queued job (a duplicate delivery finds it no longer queued and stops)."""
    job = Job.objects.select_related("cluster", "actor", "approved_by").filter(pk=job_id).first()
    if job is None or job.state != Job.State.QUEUED:
        return
    spec = kind(job.kind)
    # a self-service job runs on its approver's authority: the requester never holds the permission
    authoriser = job.approved_by if job.approved_by_id is not None else job.actor
    if authoriser is None or not authoriser.is_active or not authoriser.has_perm(spec.perm):
        who = "The Admin who approved it" if job.approved_by_id is not None else "The person who started it"
        finish(job, Job.State.FAILED, error=f"{who} no longer has the permission {spec.perm}.")
        return
    if job.cancel_requested_at:
        finish(job, Job.State.CANCELLED, summary="Cancelled before it started; nothing was sent to Citus.")
        return
    token = new_token()
    now = timezone.now()
    took = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING,
        started_at=now,
        lease_owner=token,
        lease_until=now + timedelta(seconds=lease_seconds()),
        application_name=application_name(job),
    )
    if not took:
        return
    job.refresh_from_db()
    if spec.mode == Mode.BACKGROUND:
        supervise(job.pk, token)
    elif spec.mode == Mode.BLOCKING:
        run_blocking(job, token)
    else:
        spec.run(job)
