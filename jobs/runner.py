"""Running and supervising jobs. Only this module (through the gateway) talks to Citus for a job.

Leases make "one supervisor per running job" hold across worker crashes: a runner owns a job while
``lease_until`` is in the future and renews it every poll; anything else that finds the lease lapsed
(the sweep) either re-attaches a supervisor (Citus background jobs) or marks the job interrupted
(blocking work, which is never re-run by itself).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql

from audit.actions import record
from audit.models import AuditEntry
from citusadmin import request_context
from citusadmin.citus import cleanup, errors, rebalance
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import Session, direct_session
from citusadmin.citus.errors import CitusError
from jobs.kinds import BACKGROUND, BLOCKING, KINDS
from jobs.models import Job, JobLogEntry

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


def _update(job: Job, **fields: Any) -> None:
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
            f"jobs.{job.kind}.end",
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
    if job.approved_by_id is not None:
        from selfservice.notify import job_finished

        job_finished(job)


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
        f"jobs.{job.kind}.statement",
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


def _application_name(job: Job) -> str:
    return f"citusadmin/job-{job.pk}"


# --- entry point ----------------------------------------------------------------------------------


def start(job_id: int) -> None:
    """Begin a queued job (a duplicate delivery finds it no longer queued and stops)."""
    job = Job.objects.select_related("cluster", "actor", "approved_by").filter(pk=job_id).first()
    if job is None or job.state != Job.State.QUEUED:
        return
    spec = KINDS[job.kind]
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
        application_name=_application_name(job),
    )
    if not took:
        return
    job.refresh_from_db()
    if spec.mode == BACKGROUND:
        supervise(job.pk, token)
    elif spec.mode == BLOCKING:
        run_blocking(job, token)
    else:
        run_local(job)


# --- Citus background jobs ------------------------------------------------------------------------


def _drain_precheck(sess: Session, job: Job) -> citus_nodes.Node:
    nodeid = int(job.parameters["nodeid"])
    nodes = citus_nodes.list_nodes(sess)
    node = next((n for n in nodes if n.nodeid == nodeid), None)
    if node is None:
        raise errors.NotFound(f"Node {nodeid} is no longer in the cluster.")
    others = [n.address for n in nodes if n.nodeid != nodeid and not n.shouldhaveshards and n.data_placements > 0]
    if others:
        raise errors.Refused(
            "Citus drains every node marked should-have-shards = false, and "
            f"{', '.join(others)} also is and still holds shards: set it back to true or drain it first."
        )
    return node


def _start_citus_job(sess: Session, job: Job) -> int | None:
    params = job.parameters
    if job.kind in (Job.Kind.DRAIN_NODE, Job.Kind.DRAIN_AND_REMOVE):
        node = _drain_precheck(sess, job)
        if node.shouldhaveshards:
            send(sess, job, citus_nodes.set_should_have_shards_sql(node.nodename, node.nodeport, False))
            log(job, f"Marked {node.address} should-have-shards = false, so the drain moves only its shards.")
        statement = rebalance.start_sql(
            drain_only=True, transfer_mode=params.get("transfer_mode"), strategy=params.get("strategy")
        )
    else:
        statement = rebalance_statement(params)
    floor = rebalance.max_job_id(sess)
    _update(job, parameters={**job.parameters, "citus_job_id_floor": floor})
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
    _update(job, **fields)


def _complete(sess: Session, job: Job, status: rebalance.CitusJob) -> bool:
    """Finish the job for a final Citus status. False while a drain-and-remove still waits for Citus's
    deferred drop on the drained node (the supervisor polls again)."""
    counts = status.counts
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "nothing to do"
    if status.state == "finished":
        if job.kind == Job.Kind.DRAIN_AND_REMOVE:
            return _remove_after_drain(sess, job, summary)
        finish(job, Job.State.SUCCEEDED, summary=f"Citus job {status.job_id} finished: {summary}.")
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


def _remove_after_drain(sess: Session, job: Job, summary: str) -> bool:
    """Remove the drained node, but only once Citus has dropped what the moves left on it: a cleanup
    record whose group no longer exists can never be dropped and breaks the next move of that shard."""
    nodeid = int(job.parameters["nodeid"])
    node = citus_nodes.find_node(sess, nodeid)
    if node is None:
        finish(job, Job.State.SUCCEEDED, summary=f"Drained ({summary}); the node was already removed.")
        return True
    if node.data_placements:
        finish(
            job,
            Job.State.FAILED,
            error=f"The drain finished but {node.address} still holds "
            f"{node.data_placements} placement(s); it was not removed.",
        )
        return True
    leftovers = cleanup.records(sess, group=node.groupid)
    if leftovers:
        return _wait_for_cleanup(sess, job, node, leftovers, summary)
    statement = rebalance.remove_node_sql(node.nodename, node.nodeport)
    log(job, f"Drained ({summary}); nothing left for Citus to clean up on {node.address}.")
    send(sess, job, statement)
    finish(job, Job.State.SUCCEEDED, summary=f"Drained ({summary}) and removed {node.address}.")
    return True


def _wait_for_cleanup(
    sess: Session, job: Job, node: citus_nodes.Node, leftovers: list[cleanup.CleanupRecord], summary: str
) -> bool:
    now = timezone.now()
    names = ", ".join(r.object_name for r in leftovers[:5]) + (" …" if len(leftovers) > 5 else "")
    since_text = job.parameters.get("cleanup_wait_since")
    if since_text is None:
        log(
            job,
            f"Drained ({summary}). Citus still has {len(leftovers)} leftover(s) of the moves on {node.address} "
            f"(pg_dist_cleanup: {names}); dropping them before the node is removed.",
        )
        send(sess, job, cleanup.cleanup_sql())
        _update(job, parameters={**job.parameters, "cleanup_wait_since": now.isoformat()})
        _update(
            job, phase="Waiting for Citus's deferred drop", current=f"{len(leftovers)} leftover(s) on {node.address}"
        )
        return False
    waited = (now - datetime.fromisoformat(since_text)).total_seconds()
    if waited < settings.JOB_CLEANUP_WAIT_SECONDS:
        if not job.parameters.get("cleanup_retried") and waited > settings.JOB_CLEANUP_WAIT_SECONDS / 2:
            send(sess, job, cleanup.cleanup_sql())
            _update(job, parameters={**job.parameters, "cleanup_retried": True})
        return False
    finish(
        job,
        Job.State.FAILED,
        error=(
            f"The drain finished, but after {int(waited)} s Citus still has {len(leftovers)} leftover(s) of the moves "
            f"on {node.address} (pg_dist_cleanup: {names}), so the node was NOT removed: removing it now would leave "
            "records that nothing can drop and that break the next move of those shards. The node is drained and "
            "marked should-have-shards = false. See the cleanup page of this cluster (Health → Orphaned resources), "
            "then remove the node from the Nodes page."
        ),
    )
    return True


def _send_cancel(sess: Session, job: Job) -> None:
    if job.citus_job_id is not None and not job.cancel_sent:
        send(sess, job, rebalance.cancel_job_sql(job.citus_job_id))
        _update(job, cancel_sent=True, state=Job.State.CANCELLING)


def supervise(job_id: int, token: str) -> str:
    """Mirror a Citus background job for one slice (< a minute). Returns 'done', 'continue' or 'lost'."""
    if not acquire(job_id, token):
        return "lost"
    job = Job.objects.select_related("cluster").get(pk=job_id)
    deadline = time.monotonic() + settings.JOB_SUPERVISOR_SLICE_SECONDS
    target = job.cluster.target()
    while time.monotonic() < deadline:
        try:
            with direct_session(target, application_name=_application_name(job), statement_timeout_ms=10_000) as sess:
                if job.coordinator_error:
                    log(job, "The coordinator answers again.")
                    _update(job, coordinator_error="")
                while time.monotonic() < deadline:
                    job.refresh_from_db()
                    if job.state not in Job.ACTIVE_STATES:
                        return "done"
                    if job.citus_job_id is None:
                        citus_job_id = _reattach(sess, job)
                        if citus_job_id is None:
                            finish(job, Job.State.SUCCEEDED, summary="Citus found nothing to move.")
                            return "done"
                        _update(job, citus_job_id=citus_job_id)
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
            _update(job, coordinator_error=exc.as_text(), progress_at=timezone.now())
            if not acquire(job_id, token):
                return "lost"
            time.sleep(settings.JOB_POLL_SECONDS)
        except CitusError as exc:
            finish(job, Job.State.FAILED, error=exc.as_text())
            return "done"
    return "continue"


# --- blocking work ---------------------------------------------------------------------------------


def rebalance_statement(p: dict[str, Any]) -> sql.Composed:
    """The statement a rebalance job sends for these parameters: the preview shows exactly this one.
    With a ``relation``, the blocking one-table call; otherwise Citus's background rebalance."""
    if p.get("relation"):
        return rebalance.rebalance_table_sql(
            p["relation"],
            threshold=p.get("threshold"),
            max_shard_moves=p.get("max_shard_moves"),
            excluded_shards=p.get("excluded_shards") or None,
            transfer_mode=p.get("transfer_mode"),
            strategy=p.get("strategy"),
        )
    return rebalance.start_sql(
        strategy=p.get("strategy"), drain_only=bool(p.get("drain_only")), transfer_mode=p.get("transfer_mode")
    )


def blocking_statement(job: Job) -> sql.Composed:
    p = job.parameters
    if job.kind == Job.Kind.REBALANCE_TABLE:
        return rebalance_statement(p)
    if job.kind == Job.Kind.CHANGE_SHARD_COUNT:
        return rebalance.alter_table_sql(
            p["relation"],
            shard_count=p.get("shard_count"),
            colocate_with=p.get("colocate_with"),
            distribution_column=p.get("distribution_column"),
            cascade_to_colocated=p.get("cascade_to_colocated"),
        )
    if job.kind == Job.Kind.DISTRIBUTE_CONCURRENTLY:
        from citusadmin.citus.tables import distribute_sql

        return distribute_sql(
            p["relation"],
            p["column"],
            shard_count=p.get("shard_count"),
            colocate_with=p.get("colocate_with"),
            concurrently=bool(p.get("concurrently", True)),
        )
    if job.kind == Job.Kind.MAKE_REFERENCE:
        from citusadmin.citus.tables import reference_sql

        return reference_sql(p["relation"])
    if job.kind in (Job.Kind.VACUUM, Job.Kind.ANALYZE):
        return rebalance.maintenance_sql(p.get("command", "VACUUM"), p["schema"], p["table"])
    raise ValueError(job.kind)


def run_blocking(job: Job, token: str) -> None:
    """Hold one session for the statement; follow it from a second session; cancel on request.

    If this process dies, the statement's backend notices within a second
    (client_connection_check_interval) and stops; the sweep then marks the job interrupted.
    """
    spec = KINDS[job.kind]
    target = job.cluster.target()
    statement = blocking_statement(job)
    outcome: dict[str, Any] = {}
    ready = threading.Event()

    def work() -> None:
        try:
            with direct_session(target, application_name=_application_name(job), statement_timeout_ms=0) as sess:
                outcome["pid"] = sess.backend_pid
                outcome["sql"] = sess.render(statement)
                ready.set()
                sess.execute(statement)
                outcome["notices"] = list(sess.notices)
        except CitusError as exc:
            outcome["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=work, name=f"job-{job.pk}", daemon=True)
    started = time.monotonic()
    log(job, f"Sending {statement.as_string()}")
    thread.start()
    ready.wait(settings.CITUS_CONNECT_TIMEOUT_S + 5)
    if "pid" in outcome:
        _update(job, backend_pid=outcome["pid"])
    deadline = time.monotonic() + settings.JOB_BLOCKING_TIME_LIMIT_SECONDS
    seen_moves: set[int] = set()
    monitor: Any = None
    try:
        while thread.is_alive():
            thread.join(settings.JOB_POLL_SECONDS)
            acquire(job.pk, token)
            job.refresh_from_db()
            cancel = bool(job.cancel_requested_at and not job.cancel_sent)
            overdue = time.monotonic() > deadline
            if not (spec.progress_from_rebalancer or cancel or overdue) or "pid" not in outcome:
                continue
            try:
                if monitor is None:
                    monitor = direct_session(
                        target, application_name=_application_name(job) + "/monitor", statement_timeout_ms=10_000
                    )
                    monitor_sess = monitor.__enter__()
                if cancel or overdue:
                    send(monitor_sess, job, rebalance.cancel_backend_sql(outcome["pid"]))
                    _update(job, cancel_sent=True, state=Job.State.CANCELLING)
                    log(
                        job,
                        "Sent pg_cancel_backend to the job's session"
                        + (f" (ran longer than {settings.JOB_BLOCKING_TIME_LIMIT_SECONDS} s)" if overdue else ""),
                    )
                if spec.progress_from_rebalancer:
                    moves = [m for m in rebalance.progress(monitor_sess) if m.sessionid == outcome["pid"]]
                    _mirror_blocking(job, moves, seen_moves)
            except CitusError as exc:
                if monitor is not None:
                    monitor.__exit__(None, None, None)
                monitor = None
                _update(job, coordinator_error=exc.as_text(), progress_at=timezone.now())
    finally:
        if monitor is not None:
            monitor.__exit__(None, None, None)
    job.refresh_from_db()
    error = outcome.get("error")
    notices = outcome.get("notices", [])
    if "sql" in outcome:
        audit_statement(job, outcome["sql"], error=error, duration_ms=int((time.monotonic() - started) * 1000))
    for notice in notices[-20:]:
        log(job, f"Citus: {notice}")
    if error is None:
        moved = sum(1 for n in notices if "Moving shard" in n)
        done = max(job.progress_done, len(seen_moves))
        summary = f"{moved or done} shard move(s) done." if spec.progress_from_rebalancer else "Done."
        if spec.progress_from_rebalancer and (moved or done):
            _update(job, progress_total=moved or done, progress_done=moved or done)
        finish(job, Job.State.SUCCEEDED, summary=summary)
    elif job.cancel_sent and error.sqlstate == "57014":
        finish(
            job,
            Job.State.CANCELLED,
            summary=f"Cancelled after {len(seen_moves)} finished move(s), which are kept." + _left_behind(job),
        )
    else:
        finish(job, Job.State.FAILED, error=error.as_text() + _left_behind(job))


def _left_behind(job: Job) -> str:
    """create_distributed_table_concurrently converts a plain table to a Citus local table before it
    copies; when it fails after that, the table stays a Citus local table. Say so, and keep its oid
    so the job page offers the undo (undistribute_table)."""
    if job.kind != Job.Kind.DISTRIBUTE_CONCURRENTLY or not job.parameters.get("concurrently", True):
        return ""
    from citusadmin.citus.tables import relation_state

    relation = job.target or str(job.parameters["relation"])
    try:
        with direct_session(
            job.cluster.target(), application_name=_application_name(job), statement_timeout_ms=10_000
        ) as sess:
            state = relation_state(sess, str(job.parameters["relation"]))
    except CitusError as exc:
        return f" Could not check what Citus left of {relation}: {exc.user_message}"
    if state is None or state.kind != "citus_local":
        return ""
    _update(job, parameters={**job.parameters, "left_citus_local_relid": state.relid})
    log(job, f"Citus left {relation} as a Citus local table.", "warning")
    return (
        f" Citus left {relation} as a Citus local table (it was a plain PostgreSQL table): the concurrent "
        "distribution converts it first and does not undo that when it fails. Undo it with Undistribute "
        "(undistribute_table), or distribute it again."
    )


def _mirror_blocking(job: Job, moves: list[rebalance.MoveProgress], seen: set[int]) -> None:
    if not moves:
        return
    groups: dict[tuple[str, str, int], list[rebalance.MoveProgress]] = {}
    for m in moves:  # colocated shards move together: count one move per (source, target, first shard)
        groups.setdefault((m.source, m.target, m.shardid), []).append(m)
    total = len(moves)
    done = sum(1 for m in moves if m.progress == 2)
    current = next((m for m in moves if m.progress == 1), None)
    for m in moves:
        if m.progress == 2 and m.shardid not in seen:
            seen.add(m.shardid)
            log(job, f"Moved shard {m.shardid} of {m.table_name} {m.source} → {m.target}.")
    _update(
        job,
        progress_total=total,
        progress_done=done,
        progress_at=timezone.now(),
        coordinator_error="",
        phase=current.status if current else "",
        current=(f"shard {current.shardid} of {current.table_name} {current.source} → {current.target}")
        if current
        else "",
        bytes_total=sum(m.source_size or 0 for m in moves),
        bytes_done=sum((m.source_size or 0) if m.progress == 2 else (m.target_size or 0) for m in moves),
    )


def run_local(job: Job) -> None:
    if job.kind == Job.Kind.HEALTH_CHECK:
        from monitoring.collector import collect

        collection = collect(job.cluster, trigger="manual")
        if collection.ok:
            unreachable = [n.address for n in collection.nodes.all() if n.reachable is False]
            finish(
                job,
                Job.State.SUCCEEDED,
                summary=("Unreachable: " + ", ".join(unreachable)) if unreachable else "Every node answered.",
            )
        else:
            finish(job, Job.State.FAILED, error=collection.error)


# --- the sweep ---------------------------------------------------------------------------------------


def sweep() -> dict[str, int]:
    """Re-attach supervisors whose runner died; mark dead blocking work interrupted; re-queue lost starts."""
    from citusadmin.broker import BrokerUnavailable, publish
    from jobs import tasks

    now = timezone.now()
    counts = {"resumed": 0, "interrupted": 0, "requeued": 0}
    lapsed = Job.objects.select_related("cluster").filter(
        state__in=[Job.State.RUNNING, Job.State.CANCELLING], lease_until__lt=now
    )
    for job in lapsed:
        spec = KINDS[job.kind]
        if spec.mode == BACKGROUND:
            # Claim the re-attach atomically: sweeps that piled up while the worker was away run at once,
            # and only one of them may publish (and log) it.
            recent = now - timedelta(seconds=lease_seconds())
            claimed = (
                Job.objects.filter(pk=job.pk, lease_until__lt=now)
                .filter(Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=recent))
                .update(resume_requested_at=now)
            )
            if not claimed:
                continue
            try:
                publish(tasks.supervise_job, job.pk, new_token())
            except BrokerUnavailable:
                Job.objects.filter(pk=job.pk).update(resume_requested_at=job.resume_requested_at)
                return counts
            log(job, "Its supervisor stopped; a new one re-attaches to the Citus job.", "warning")
            counts["resumed"] += 1
        else:
            finish(
                job,
                Job.State.INTERRUPTED,
                error=(
                    "The worker running this job stopped (killed or crashed). Its database session ended with it, so "
                    "Citus cancelled the statement; it will not be re-run by itself. Finished shard moves are kept: "
                    "check the placements and pg_dist_cleanup, then start it again if needed."
                ),
            )
            counts["interrupted"] += 1
    stale_queued = Job.objects.filter(state=Job.State.QUEUED, created_at__lt=now - timedelta(seconds=30)).filter(
        Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=now - timedelta(seconds=30))
    )
    for job in stale_queued:
        claimed = (
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED)
            .filter(Q(resume_requested_at__isnull=True) | Q(resume_requested_at__lt=now - timedelta(seconds=30)))
            .update(resume_requested_at=now)
        )
        if not claimed:
            continue
        try:
            publish(tasks.run_job, job.pk)
        except BrokerUnavailable:
            Job.objects.filter(pk=job.pk).update(resume_requested_at=job.resume_requested_at)
            return counts
        counts["requeued"] += 1
    return counts
