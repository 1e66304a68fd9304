"""A job's state in the console's database: its lease, log, end, and the audit of what it sends.

Leases make "one runner per running job" hold across worker crashes: a runner owns a job while
``lease_until`` is in the future and renews it every poll; anything else that finds the lease lapsed
(``jobs.sweep``) re-attaches a supervisor or marks the job interrupted. ``finish`` moves a job to its
final state once and sends ``jobs.signals.job_finished`` (self-service tells the requester).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from audit.actions import record
from audit.models import AuditEntry
from audit.names import JobEvent, job_action
from citusadmin import request_context
from citusadmin.citus.connection import Session
from citusadmin.citus.errors import CitusError
from jobs.models import Job, JobLogEntry
from jobs.signals import job_finished

logger = logging.getLogger(__name__)


def lease_seconds() -> int:
    return int(settings.JOB_LEASE_SECONDS)


def new_token() -> str:
    return uuid.uuid4().hex


def log(job: Job, message: str, level: str = "info") -> None:
    JobLogEntry.objects.create(job=job, message=message[:4000], level=level)


def acquire(job_id: int, token: str) -> bool:
    """Take (or renew) the job's lease. False when another live runner holds it or the job ended."""
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, state__in=Job.ACTIVE_STATES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=token))
        .update(lease_owner=token, lease_until=now + timedelta(seconds=lease_seconds()))
    )


def update(job: Job, **fields: Any) -> None:
    for key, value in fields.items():
        setattr(job, key, value)
    Job.objects.filter(pk=job.pk).update(**fields)


def finish(job: Job, state: str, *, error: str = "", summary: str = "") -> None:
    """Move the job to a final state (once) and write the end to the audit trail."""
    now = timezone.now()
    final: dict[str, Any] = {"current": "", "phase": ""}  # nothing is in flight in a finished job
    if state == Job.State.SUCCEEDED and job.progress_total:
        final["progress_done"] = F("progress_total")  # its figures are final and match its log
    changed = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE_STATES).update(
        state=state,
        finished_at=now,
        error=error,
        summary=summary,
        lease_until=None,
        lease_owner="",
        backend_pid=None,
        **final,
    )
    if not changed:
        return
    job.refresh_from_db()
    log(
        job,
        f"Job {state}" + (f": {summary}" if summary else "") + (f" — {error}" if error else ""),
        "error" if state in (Job.State.FAILED, Job.State.INTERRUPTED) else "info",
    )
    token = request_context.set_current(request_context.RequestContext(source="job"))
    try:
        record(
            job.actor,
            job_action(job.kind, JobEvent.END),
            AuditEntry.Outcome.SUCCEEDED if state == Job.State.SUCCEEDED else AuditEntry.Outcome.FAILED,
            cluster=job.cluster,
            target=job.target,
            parameters={"state": state, "summary": summary, "citus_job_id": job.citus_job_id},
            error=error,
            job_id=job.pk,
            actor_name=job.actor_name,
        )
    finally:
        request_context.reset(token)
    job_finished.send(sender=Job, job=job)


def audit_statement(job: Job, text: str, *, error: CitusError | None = None, duration_ms: int | None = None) -> None:
    """Every statement a job sends that changes the cluster goes into the audit trail as sent."""
    token = request_context.set_current(request_context.RequestContext(source="job"))
    try:
        _record_statement(job, text, error, duration_ms)
    except DatabaseError as exc:  # never leave the job hanging; say loudly what is missing
        logger.exception("audit entry of job %s not written", job.pk)
        log(job, f"The audit entry for this statement could not be written ({exc}): {text}", "error")
    finally:
        request_context.reset(token)


def _record_statement(job: Job, text: str, error: CitusError | None, duration_ms: int | None) -> None:
    approved = {"approved_by": job.approved_by.get_username()} if job.approved_by_id and job.approved_by else {}
    record(
        job.actor,
        job_action(job.kind, JobEvent.STATEMENT),
        AuditEntry.Outcome.FAILED if error else AuditEntry.Outcome.SUCCEEDED,
        cluster=job.cluster,
        target=job.target,
        parameters=approved,
        sql=text,
        error=error.as_text() if error else "",
        sqlstate=(error.sqlstate or "") if error else "",
        duration_ms=duration_ms,
        job_id=job.pk,
        actor_name=job.actor_name,
    )


def send(sess: Session, job: Job, statement: sql.Composed | sql.SQL, *, scalar: bool = False) -> Any:
    """Send a statement that changes the cluster: logged on the job, audited with the SQL as sent."""
    text = sess.render(statement)
    log(job, f"Sending {text}")
    started = time.monotonic()
    try:
        result = None
        if scalar:
            result = sess.scalar(statement)
        else:
            sess.execute(statement)
    except CitusError as exc:
        audit_statement(job, text, error=exc, duration_ms=int((time.monotonic() - started) * 1000))
        raise
    audit_statement(job, text, duration_ms=int((time.monotonic() - started) * 1000))
    return result


def application_name(job: Job) -> str:
    return f"citusadmin/job-{job.pk}"
