"""Supervising a job that Citus runs itself (``citus_rebalance_start``).

The supervisor mirrors the Citus background job's status into the Job row in slices of under a
minute (``supervise`` returns ``continue`` and the task publishes the next slice). If the runner
dies, its lease lapses and ``jobs.sweep`` publishes a new supervisor, which re-attaches to the same
Citus job (or finds the one a dead runner started before it could store its id).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from citusadmin.citus import errors, rebalance
from citusadmin.citus.connection import Session, direct_session
from citusadmin.citus.errors import CitusError
from jobs.kinds import kind
from jobs.models import Job
from jobs.state import acquire, application_name, finish, log, send, update


def _start_citus_job(sess: Session, job: Job) -> int | None:
    spec = kind(job.kind)
    params = spec.params(job)
    spec.before_start(sess, job, params)
    statement = spec.statement(params)
    floor = rebalance.max_job_id(sess)
    update(job, parameters={**job.parameters, "citus_job_id_floor": floor})
    try:
        citus_job_id = send(sess, job, statement, scalar=True)
    except errors.CitusInternal as exc:
        running = rebalance.already_running_job(exc.primary)
        if running is not None:
            raise errors.Refused(
                f"A rebalance is already running as Citus job {running}, started outside this console job. "
                "Wait for it, or cancel it with citus_job_cancel."
            ) from exc
        raise
    for notice in sess.notices:
        log(job, f"Citus: {notice}")
    return None if citus_job_id is None else int(citus_job_id)


def _reattach(sess: Session, job: Job) -> int | None:
    """The runner died between starting the Citus job and storing its id: find it, or start it."""
    floor = job.parameters.get("citus_job_id_floor")
    if floor is not None:
        latest = rebalance.latest_rebalance_job(sess)
        if latest is not None and latest.job_id > int(floor):
            log(job, f"Re-attached to Citus job {latest.job_id}.")
            return latest.job_id
    return _start_citus_job(sess, job)


_task_names: dict[tuple[str, str], str] = {}


def _describe_task(sess: Session, task: dict[str, Any]) -> str:
    """The running task in names (table, shard, nodes), looked up once per distinct command."""
    command = str(task.get("command", ""))
    key = (sess.target.key, command)
    if key not in _task_names:
        if len(_task_names) > 1000:
            _task_names.clear()
        try:
            _task_names[key] = rebalance.describe_command(sess, command)
        except CitusError:
            return command.replace("SELECT pg_catalog.", "")[:300]
    return _task_names[key][:300]


def _mirror(sess: Session, job: Job, status: rebalance.CitusJob, moves: list[rebalance.MoveProgress]) -> None:
    counts = status.counts
    total = sum(counts.values())
    done = counts.get("done", 0)
    running = [t for t in status.tasks if t.get("state") == "running"]
    waiting = [t for t in status.tasks if int(t.get("retried") or 0) > 0 and t.get("state") != "running"]
    fields: dict[str, Any] = {
        "progress_total": total or None,
        "progress_done": done,
        "citus_state": status.state,
        "progress_at": timezone.now(),
        "coordinator_error": "",
        "phase": str(running[0].get("phase") or "") if running else ("Waiting to retry" if waiting else ""),
        "current": _describe_task(sess, running[0]) if running else "",
    }
    in_flight = [m for m in moves if m.progress == 1]
    if in_flight:
        fields["bytes_total"] = sum(m.source_size or 0 for m in in_flight)
        fields["bytes_done"] = sum(m.target_size or 0 for m in in_flight)
        fields["phase"] = in_flight[0].status or fields["phase"]
    retried = max((int(t.get("retried") or 0) for t in status.tasks), default=0)
    if retried:
        message = next((str(t.get("message") or "") for t in status.tasks if int(t.get("retried") or 0) == retried), "")
        fields["retries"] = retried
        fields["retry_message"] = message.strip().splitlines()[0] if message.strip() else ""
    else:
        fields["retry_message"] = ""
    if status.state != job.citus_state:
        log(job, f"Citus job {status.job_id} is {status.state}.")
    if done > job.progress_done:
        log(job, f"{done} of {total} tasks done.")
    if retried and (retried != job.retries or fields["retry_message"] != job.retry_message):
        log(job, f"Retrying {retried}/32: {fields['retry_message']}", "warning")
    update(job, **fields)


def _complete(sess: Session, job: Job, status: rebalance.CitusJob) -> bool:
    """Finish the job for a final Citus status. False while a drain-and-remove still waits for Citus's
    deferred drop on the drained node (the supervisor polls again)."""
    counts = status.counts
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to do"
    if status.state == "finished":
        return kind(job.kind).complete(sess, job, status, summary)
    elif status.state == "cancelled":
        finish(
            job,
            Job.State.CANCELLED,
            summary=f"Citus job {status.job_id} cancelled: {summary}. Finished moves "
            "are kept; leftovers of the interrupted move are cleaned up by Citus (pg_dist_cleanup).",
        )
    else:
        failed = rebalance.ended_tasks(sess, status.job_id)
        reason = next((t.message for t in failed if t.status == "error" and t.message), "") or "see the Citus log"
        finish(
            job, Job.State.FAILED, summary=summary, error=f"Citus job {status.job_id} {status.state}: {reason.strip()}"
        )
    return True


def _send_cancel(sess: Session, job: Job) -> None:
    if job.citus_job_id is not None and not job.cancel_sent:
        send(sess, job, rebalance.cancel_job_sql(job.citus_job_id))
        update(job, cancel_sent=True, state=Job.State.CANCELLING)


def supervise(job_id: int, token: str) -> str:
    """Mirror a Citus background job for one slice (< a minute). Returns 'done', 'continue' or 'lost'."""
    if not acquire(job_id, token):
        return "lost"
    job = Job.objects.select_related("cluster").get(pk=job_id)
    deadline = time.monotonic() + settings.JOB_SUPERVISOR_SLICE_SECONDS
    target = job.cluster.target()
    while time.monotonic() < deadline:
        try:
            with direct_session(target, application_name=application_name(job), statement_timeout_ms=10_000) as sess:
                if job.coordinator_error:
                    log(job, "The coordinator answers again.")
                    update(job, coordinator_error="")
                while time.monotonic() < deadline:
                    job.refresh_from_db()
                    if job.state not in Job.ACTIVE_STATES:
                        return "done"
                    if job.citus_job_id is None:
                        citus_job_id = _reattach(sess, job)
                        if citus_job_id is None:
                            job.spec.nothing_to_move(sess, job)
                            job.refresh_from_db()
                            if job.state not in Job.ACTIVE_STATES:
                                return "done"
                            if not acquire(job_id, token):  # the kind waits (for cleanup) before it finishes
                                return "lost"
                            time.sleep(settings.JOB_POLL_SECONDS)
                            continue
                        update(job, citus_job_id=citus_job_id)
                    if job.cancel_requested_at and not job.cancel_sent:
                        _send_cancel(sess, job)
                    status = rebalance.job_status(sess, job.citus_job_id)  # type: ignore[arg-type]
                    if status is None:
                        finish(job, Job.State.FAILED, error=f"Citus has no job {job.citus_job_id} any more.")
                        return "done"
                    moves: list[rebalance.MoveProgress] = []
                    if status.state == "running":
                        try:  # reads live sizes on the nodes: a node that is down must not stop the mirror
                            moves = rebalance.progress(sess)
                        except errors.WorkerUnreachable:
                            moves = []
                    _mirror(sess, job, status, moves)
                    if status.is_final and _complete(sess, job, status):
                        return "done"
                    if not acquire(job_id, token):
                        return "lost"
                    time.sleep(settings.JOB_POLL_SECONDS)
        except errors.Refused as exc:
            finish(job, Job.State.FAILED, error=exc.user_message)
            return "done"
        except (errors.ConnectionFailed, errors.QueryTimeout) as exc:
            if not job.coordinator_error:
                log(job, f"The coordinator is unreachable: {exc.as_text()} (Citus keeps running the job).", "warning")
            update(job, coordinator_error=exc.as_text(), progress_at=timezone.now())
            if not acquire(job_id, token):
                return "lost"
            time.sleep(settings.JOB_POLL_SECONDS)
        except CitusError as exc:
            finish(job, Job.State.FAILED, error=exc.as_text())
            return "done"
    return "continue"
