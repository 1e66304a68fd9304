"""Job tasks. All acknowledge on receipt (at most once): the Job row, its lease and the sweep decide
what happens after a crash, never a broker redelivery. Supervisors work in slices well under the
broker's visibility timeout; blocking work stops itself before its own limit (also under it)."""

from __future__ import annotations

import contextlib

from celery import shared_task
from django.conf import settings

from citusadmin import request_context
from citusadmin.broker import BrokerUnavailable, publish
from jobs import runner, supervisor
from jobs import sweep as sweeper


def _as_job() -> object:
    return request_context.set_current(request_context.RequestContext(source="job"))


@shared_task(
    acks_late=False,
    ignore_result=True,
    time_limit=settings.JOB_BLOCKING_TIME_LIMIT_SECONDS + 300,
    soft_time_limit=settings.JOB_BLOCKING_TIME_LIMIT_SECONDS + 240,
)
def run_job(job_id: int) -> None:
    token = _as_job()
    try:
        runner.start(job_id)
    finally:
        request_context.reset(token)  # type: ignore[arg-type]
    _continue(job_id)


@shared_task(
    acks_late=False,
    ignore_result=True,
    time_limit=settings.JOB_SUPERVISOR_SLICE_SECONDS + 60,
    soft_time_limit=settings.JOB_SUPERVISOR_SLICE_SECONDS + 50,
)
def supervise_job(job_id: int, lease_token: str) -> None:
    token = _as_job()
    try:
        result = supervisor.supervise(job_id, lease_token)
    finally:
        request_context.reset(token)  # type: ignore[arg-type]
    if result == "continue":
        # If the broker is down, the lease lapses and the sweep re-attaches when it is back.
        with contextlib.suppress(BrokerUnavailable):
            publish(supervise_job, job_id, lease_token)


def _continue(job_id: int) -> None:
    from jobs.models import Job

    job = Job.objects.filter(pk=job_id).only("state", "lease_owner", "kind").first()
    if job is not None and job.state in Job.ACTIVE_STATES and job.lease_owner:
        with contextlib.suppress(BrokerUnavailable):
            publish(supervise_job, job_id, job.lease_owner)


@shared_task(acks_late=False, ignore_result=True, time_limit=120, soft_time_limit=110)
def compute_rebalance_plan(cluster_id: int, params: dict[str, object], key: str) -> None:
    """A rebalance preview too slow for the page (jobs.preview)."""
    from clusters.models import Cluster
    from jobs import preview

    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is not None:
        preview.compute(cluster, params, key)


@shared_task(acks_late=False, ignore_result=True, time_limit=60, soft_time_limit=50)
def sweep() -> dict[str, int]:
    token = _as_job()
    try:
        return sweeper.sweep()
    finally:
        request_context.reset(token)  # type: ignore[arg-type]
