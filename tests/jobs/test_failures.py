"""A rebalance survives a coordinator restart and a worker outage, and the page says what happens."""

from __future__ import annotations

import time

import pytest

from jobs.actions import do_start_job
from jobs.models import Job
from tests.helpers import citus_jobs_since, job_state, wait_for

pytestmark = pytest.mark.broker


def _fragment(client, job):
    return client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()


def test_the_coordinator_restarts_during_a_rebalance(
    client, operator, cluster_row, unbalanced, job_worker, controllable
):
    sandbox = controllable.sandbox
    job = do_start_job(operator, cluster_row, "rebalance", {"transfer_mode": "force_logical"})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 1, 120, message=job_worker.logs())
    client.force_login(operator)
    sandbox.stop_node(sandbox.coordinator, mode="fast")
    try:
        wait_for(lambda: "unreachable" in _fragment(client, job), 20, message="the page never said so")
        assert job_state(job.pk) == "running"
    finally:
        sandbox.start_node(sandbox.coordinator)
        sandbox.wait_ready(sandbox.coordinator)
    wait_for(
        lambda: job_state(job.pk) in Job.FINAL_STATES or runner_sweep(), 240, interval=1, message=job_worker.logs()
    )
    job.refresh_from_db()
    assert job.state == "succeeded", (job.error, job_worker.logs())
    assert len(citus_jobs_since(controllable, unbalanced["floor"])) == 1  # Citus resumed the same job
    assert job.log.filter(message__contains="answers again").exists()


def runner_sweep() -> bool:
    from jobs import sweep

    sweep.sweep()  # what beat does every few seconds
    return False


def test_a_worker_node_stops_during_a_rebalance(client, operator, cluster_row, unbalanced, job_worker, controllable):
    sandbox = controllable.sandbox
    spare = unbalanced["spare"]
    job = do_start_job(operator, cluster_row, "rebalance", {"transfer_mode": "force_logical"})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 1, 120, interval=0.2, message=job_worker.logs())
    sandbox.stop_node(spare, mode="immediate")
    client.force_login(operator)
    try:
        wait_for(lambda: "retrying" in _fragment(client, job), 60, interval=0.5, message=job_worker.logs())
        body = _fragment(client, job)
        assert "of 32 attempts" in body and ("connect" in body or "connection" in body)
        assert "Time left" not in body  # a retrying task says nothing about the time left
        assert job_state(job.pk) == "running"
    finally:
        sandbox.start_node(spare)
        sandbox.wait_ready(spare)
    wait_for(
        lambda: job_state(job.pk) in Job.FINAL_STATES or runner_sweep(), 240, interval=1, message=job_worker.logs()
    )
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.log.filter(message__startswith="Retrying").exists()
    time.sleep(0)
