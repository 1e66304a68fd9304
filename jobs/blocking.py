"""Blocking work: one session holds the statement until it returns; a second follows and cancels it.

If this process dies, the statement's backend notices within a second
(``client_connection_check_interval``) and stops; the sweep then marks the job interrupted. Blocking
work is never re-run by itself.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from citusadmin.citus import rebalance
from citusadmin.citus.connection import Session, direct_session
from citusadmin.citus.errors import CitusError
from jobs.kinds import kind
from jobs.models import Job
from jobs.state import acquire, application_name, audit_statement, finish, log, send, update


class _Monitor:
    """The second session, opened when first needed and again after an error; closed at the end."""

    def __init__(self, job: Job, target: Any) -> None:
        self.job, self.target = job, target
        self.stack = contextlib.ExitStack()
        self.sess: Session | None = None

    def session(self) -> Session:
        if self.sess is None:
            self.sess = self.stack.enter_context(
                direct_session(
                    self.target, application_name=application_name(self.job) + "/monitor", statement_timeout_ms=10_000
                )
            )
        return self.sess

    def drop(self) -> None:
        self.stack.close()
        self.stack = contextlib.ExitStack()
        self.sess = None

    def __enter__(self) -> _Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


def run_blocking(job: Job, token: str) -> None:
    """Hold one session for the statement; follow it from a second session; cancel on request.

    If this process dies, the statement's backend notices within a second
    (client_connection_check_interval) and stops; the sweep then marks the job interrupted.
    """
    spec = kind(job.kind)
    target = job.cluster.target()
    statement = spec.statement(spec.params(job))
    outcome: dict[str, Any] = {}
    ready = threading.Event()

    def work() -> None:
        try:
            with direct_session(target, application_name=application_name(job), statement_timeout_ms=0) as sess:
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
        update(job, backend_pid=outcome["pid"])
    deadline = time.monotonic() + settings.JOB_BLOCKING_TIME_LIMIT_SECONDS
    seen_moves: set[int] = set()
    monitor = _Monitor(job, target)
    with monitor:
        while thread.is_alive():
            thread.join(settings.JOB_POLL_SECONDS)
            acquire(job.pk, token)
            job.refresh_from_db()
            cancel = bool(job.cancel_requested_at and not job.cancel_sent)
            overdue = time.monotonic() > deadline
            if not (spec.progress_from_rebalancer or cancel or overdue) or "pid" not in outcome:
                continue
            try:
                sess = monitor.session()
                if cancel or overdue:
                    send(sess, job, rebalance.cancel_backend_sql(outcome["pid"]))
                    update(job, cancel_sent=True, state=Job.State.CANCELLING)
                    log(
                        job,
                        "Sent pg_cancel_backend to the job's session"
                        + (f" (ran longer than {settings.JOB_BLOCKING_TIME_LIMIT_SECONDS} s)" if overdue else ""),
                    )
                if spec.progress_from_rebalancer:
                    moves = [m for m in rebalance.progress(sess) if m.sessionid == outcome["pid"]]
                    _mirror_blocking(job, moves, seen_moves)
            except CitusError as exc:
                monitor.drop()  # a fresh session at the next poll
                update(job, coordinator_error=exc.as_text(), progress_at=timezone.now())
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
            update(job, progress_total=moved or done, progress_done=moved or done)
        finish(job, Job.State.SUCCEEDED, summary=summary)
    elif job.cancel_sent and error.sqlstate == "57014":
        finish(
            job,
            Job.State.CANCELLED,
            summary=f"Cancelled after {len(seen_moves)} finished move(s), which are kept." + spec.left_behind(job),
        )
    else:
        finish(job, Job.State.FAILED, error=error.as_text() + spec.left_behind(job))


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
    update(
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
