"""Starting and cancelling jobs. The Job row is committed before its task is published."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.contrib.auth.models import User

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actions import audited, record
from audit.models import AuditEntry
from audit.names import JobEvent, job_action
from citusadmin.broker import BrokerUnavailable, publish
from citusadmin.citus import errors, rebalance
from citusadmin.citus.connection import session
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster
from jobs import state
from jobs.kinds import JobKind, Mode, Params, kind
from jobs.models import Job


class JobAlreadyRunning(errors.Refused):
    """Another job holding the same lock is active on this cluster."""

    def __init__(self, job: Job | None) -> None:
        self.job = job
        label = f"job {job.pk} ({job.get_kind_display()}, {job.state})" if job else "another job"
        super().__init__(f"Already running as {label}: Citus runs one rebalance, drain or shard move at a time.")


def do_start_job(
    actor: Actor,
    cluster: Cluster,
    job_kind: JobKind | str,
    parameters: Params | dict[str, Any],
    *,
    target: str = "",
    approved_by: Any = None,
) -> Job:
    """``actor`` is who asked; with ``approved_by`` (a self-service request) the approver is who
    authorises it: their permission is checked and the audit entry is theirs, naming the requester."""
    spec = kind(job_kind) if isinstance(job_kind, str) else job_kind
    parameters = spec.Params.load(parameters).dump()  # typed: a key the kind does not know is dropped
    authoriser = approved_by or actor
    audit_parameters = {**parameters, "requested_by": actor.get_username()} if approved_by else parameters
    with audited(
        authoriser,
        job_action(spec.name, JobEvent.START),
        perm=spec.perm,
        cluster=cluster,
        target=target,
        parameters=audit_parameters,
    ) as entry:
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    cluster=cluster,
                    kind=spec.name,
                    lock=spec.lock,
                    target=target,
                    parameters=parameters,
                    actor=cast("User", actor),  # audited() refused an anonymous one
                    actor_name=actor.get_username(),
                    approved_by=approved_by,
                )
        except IntegrityError:
            running = Job.objects.filter(cluster=cluster, lock=spec.lock, state__in=Job.ACTIVE_STATES).first()
            raise JobAlreadyRunning(running) from None
        entry.job_id = job.pk
        entry.result = f"job {job.pk} queued"
    try:
        publish("jobs.tasks.run_job", job.pk)
    except BrokerUnavailable as exc:
        state.finish(job, Job.State.FAILED, error=exc.as_text())
        record(
            authoriser,
            job_action(spec.name, JobEvent.QUEUE),
            AuditEntry.Outcome.FAILED,
            cluster=cluster,
            target=target,
            error=exc.as_text(),
            job_id=job.pk,
        )
        raise
    return job


def do_cancel_job(actor: Actor, job: Job) -> Job:
    """Recorded first (the row says cancelling), then Citus is told: citus_job_cancel for a Citus
    background job, pg_cancel_backend for blocking work. Finished moves are kept either way."""
    with audited(
        actor, job_action(job.kind, JobEvent.CANCEL), perm=Perm.CANCEL_JOB, cluster=job.cluster, target=job.target
    ) as entry:
        entry.job_id = job.pk
        job.refresh_from_db()
        if not job.is_active:
            raise errors.Refused(f"Job {job.pk} already ended ({job.state}).")
        if job.state == Job.State.QUEUED:
            state.finish(job, Job.State.CANCELLED, summary="Cancelled before it started; nothing was sent to Citus.")
            return job
        Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now(), state=Job.State.CANCELLING)
        state.log(job, f"Cancel requested by {actor.get_username()}.")
    job.refresh_from_db()
    statement = None
    if kind(job.kind).mode == Mode.BACKGROUND and job.citus_job_id is not None:
        statement = rebalance.cancel_job_sql(job.citus_job_id)
    elif job.backend_pid:
        statement = rebalance.cancel_backend_sql(job.backend_pid)
    if statement is not None:
        with audited(
            actor,
            job_action(job.kind, JobEvent.CANCEL_SENT),
            perm=Perm.CANCEL_JOB,
            cluster=job.cluster,
            target=job.target,
            atomic=False,
        ) as entry:
            entry.job_id = job.pk
            with session(job.cluster.target()) as sess:
                sess.execute(statement)
            Job.objects.filter(pk=job.pk).update(cancel_sent=True)
            state.log(job, f"Sent {statement.as_string()}")
    job.refresh_from_db()
    return job
