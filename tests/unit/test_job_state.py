"""The job state machine without a cluster or a worker, in seconds: leases, the end of a job, the sweep,
and the mirror of a Citus background job's status (the gateway's own result type, built by hand).

The real-cluster tests in tests/jobs drive the same code end to end; these pin the rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from citusadmin.citus.rebalance import CitusJob
from clusters.models import Cluster
from jobs import runner, state, supervisor
from jobs import sweep as sweeper
from jobs.models import Job, JobLogEntry
from jobs.signals import job_finished
from tests.helpers import use_broker


@pytest.fixture
def cluster(db: None) -> Cluster:
    return Cluster.objects.create(name="unit", host="127.0.0.1", port=1)


def _job(cluster: Cluster, actor: Any, kind: str = "rebalance", **fields: Any) -> Job:
    return Job.objects.create(cluster=cluster, kind=kind, actor=actor, actor_name=actor.get_username(), **fields)


def test_a_lease_has_one_holder_until_it_lapses(cluster, operator, settings):
    job = _job(cluster, operator, state=Job.State.RUNNING)
    assert state.acquire(job.pk, "a")
    assert state.acquire(job.pk, "a")  # renewing its own
    assert not state.acquire(job.pk, "b")
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert state.acquire(job.pk, "b")
    assert not state.acquire(job.pk, "a")


def test_a_job_ends_once_with_an_audit_entry_and_the_signal(cluster, operator):
    job = _job(cluster, operator, state=Job.State.RUNNING, progress_total=8, progress_done=5)
    heard: list[Job] = []

    def listener(sender: Any, job: Job, **kwargs: Any) -> None:
        heard.append(job)

    job_finished.connect(listener)
    try:
        state.finish(job, Job.State.SUCCEEDED, summary="8 done")
        state.finish(job, Job.State.FAILED, error="late")  # a second end changes nothing
    finally:
        job_finished.disconnect(listener)
    job.refresh_from_db()
    assert (job.state, job.summary, job.error, job.progress_done) == ("succeeded", "8 done", "", 8)
    assert job.lease_owner == "" and job.lease_until is None
    assert [j.pk for j in heard] == [job.pk]
    ends = AuditEntry.objects.filter(action="jobs.rebalance.end", job_id=job.pk)
    assert ends.count() == 1 and ends.get().outcome == AuditEntry.Outcome.SUCCEEDED


def test_a_job_whose_starter_lost_the_permission_fails_without_sending_anything(cluster, operator):
    job = _job(cluster, operator)
    operator.groups.clear()
    operator = type(operator).objects.get(pk=operator.pk)  # permissions are cached per user object
    runner.start(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "no longer has the permission jobs.start_rebalance" in job.error
    assert not AuditEntry.objects.filter(action="jobs.rebalance.statement").exists()


def test_a_job_cancelled_while_queued_never_starts(cluster, operator):
    job = _job(cluster, operator, cancel_requested_at=timezone.now())
    runner.start(job.pk)
    job.refresh_from_db()
    assert job.state == "cancelled" and "nothing was sent" in job.summary


def test_the_sweep_resumes_background_work_interrupts_blocking_work_and_requeues_lost_starts(cluster, operator):
    past = timezone.now() - timedelta(minutes=5)
    background = _job(cluster, operator, "rebalance", state=Job.State.RUNNING, lease_owner="dead", lease_until=past)
    blocking = _job(cluster, operator, "vacuum", state=Job.State.RUNNING, lease_owner="dead", lease_until=past)
    queued = _job(cluster, operator, "analyze")
    Job.objects.filter(pk=queued.pk).update(created_at=past)
    with use_broker("memory://", "unit-sweep"):
        counts = sweeper.sweep()
        again = sweeper.sweep()  # a second sweep right after acts on nothing twice
    assert counts == {"resumed": 1, "interrupted": 1, "requeued": 1}
    assert again == {"resumed": 0, "interrupted": 0, "requeued": 0}
    blocking.refresh_from_db()
    assert blocking.state == "interrupted" and "will not be re-run by itself" in blocking.error
    background.refresh_from_db()
    assert background.state == "running" and background.resume_requested_at is not None
    assert JobLogEntry.objects.filter(job=background, message__contains="re-attaches").count() == 1


def test_the_sweep_with_the_broker_down_claims_nothing(cluster, operator):
    past = timezone.now() - timedelta(minutes=5)
    job = _job(cluster, operator, "rebalance", state=Job.State.RUNNING, lease_owner="dead", lease_until=past)
    with use_broker("redis://127.0.0.1:1/0", "unit-down"):
        counts = sweeper.sweep()
    job.refresh_from_db()
    assert counts["resumed"] == 0 and job.resume_requested_at is None  # the next sweep tries again


def _status(state_: str, counts: dict[str, int], tasks: list[dict[str, Any]] | None = None) -> CitusJob:
    details = {"task_state_counts": counts, "tasks": tasks or []}
    return CitusJob(job_id=42, state=state_, started_at=timezone.now(), finished_at=None, details=details)


def test_the_mirror_shows_citus_progress_and_retries_in_words(cluster, operator):
    job = _job(cluster, operator, state=Job.State.RUNNING, citus_job_id=42)
    supervisor._mirror(None, job, _status("running", {"done": 3, "runnable": 5}), [])  # type: ignore[arg-type]
    job.refresh_from_db()
    assert (job.progress_done, job.progress_total, job.citus_state) == (3, 8, "running")
    assert JobLogEntry.objects.filter(job=job, message="3 of 8 tasks done.").exists()
    retrying = [{"state": "runnable", "retried": 2, "message": "could not connect to worker\nDETAIL: x"}]
    supervisor._mirror(None, job, _status("running", {"done": 3, "runnable": 5}, retrying), [])  # type: ignore[arg-type]
    job.refresh_from_db()
    assert job.retries == 2 and job.retry_message == "could not connect to worker"
    assert job.phase == "Waiting to retry" and job.eta_seconds is None
    assert JobLogEntry.objects.filter(job=job, level="warning", message__startswith="Retrying 2/32").exists()


@pytest.mark.parametrize(
    ("citus_state", "job_state", "words"),
    [
        ("finished", "succeeded", "Citus job 42 finished: 8 done."),
        ("cancelled", "cancelled", "Finished moves are kept"),
    ],
)
def test_a_final_citus_status_ends_the_job(cluster, operator, citus_state, job_state, words):
    job = _job(cluster, operator, state=Job.State.RUNNING, citus_job_id=42)
    assert supervisor._complete(None, job, _status(citus_state, {"done": 8}))  # type: ignore[arg-type]
    job.refresh_from_db()
    assert job.state == job_state and words in job.summary
