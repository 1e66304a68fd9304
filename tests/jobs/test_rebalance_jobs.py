"""Jobs against a real Citus cluster, a real Redis and a real Celery worker."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connections

from audit.models import AuditEntry
from citusadmin.citus.connection import count_queries
from jobs import runner, sweep
from jobs.actions import JobAlreadyRunning, do_start_job
from jobs.models import Job
from tests.helpers import citus_jobs_since, job_state, placements_on, wait_for

pytestmark = pytest.mark.broker


def _start_rebalance(client, cluster, mode="block_writes"):
    response = client.post(f"/c/{cluster.pk}/rebalance/", {"scope": "cluster", "transfer_mode": mode, "confirm": "yes"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Job.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_the_rebalance_page_previews_citus_plan(client, operator, cluster_row, unbalanced):
    client.force_login(operator)
    body = client.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "no"}).content.decode()
    assert 'id="plan"' in body and f"127.0.0.1:{unbalanced['spare'].port}" in body
    assert "citus_rebalance_start(" in body
    assert not Job.objects.exists()  # a preview starts nothing
    page = client.get(f"/c/{cluster_row.pk}/rebalance/").content.decode()
    assert "threshold 0.1 " in page and "0.10000000149" not in page  # real4 thresholds, rounded


def test_a_rebalance_runs_to_completion_with_progress_and_audit(
    client, operator, cluster_row, unbalanced, job_worker, citus
):
    client.force_login(operator)
    job = _start_rebalance(client, cluster_row)

    def citus_finished() -> bool:
        with citus.connect() as conn:
            row = conn.execute(
                "SELECT state::text FROM pg_dist_background_job WHERE job_id > %s ORDER BY job_id LIMIT 1",
                (unbalanced["floor"],),
            ).fetchone()
        return bool(row and row[0] == "finished")

    wait_for(citus_finished, 120, interval=0.1, message=job_worker.logs())
    seen_at = time.monotonic()
    wait_for(
        lambda: "succeeded" in client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode(),
        10,
        interval=0.2,
    )
    assert time.monotonic() - seen_at < 5  # the page reflects Citus within 5 s
    job.refresh_from_db()
    assert job.state == "succeeded", (job.error, job_worker.logs())
    assert job.citus_job_id is not None and job.progress_total and job.progress_done == job.progress_total
    assert placements_on(citus, unbalanced["spare"].port) > 0
    assert [j[1] for j in citus_jobs_since(citus, unbalanced["floor"])] == ["finished"]
    actions = set(AuditEntry.objects.filter(job_id=job.pk).values_list("action", "outcome"))
    assert ("jobs.rebalance.start", "succeeded") in actions and ("jobs.rebalance.end", "succeeded") in actions
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "succeeded" in page and "tasks done" in page
    fragment = client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in fragment  # polling stops at a final state


def test_ten_concurrent_starts_make_exactly_one_citus_job(operator, cluster_row, unbalanced, job_worker, citus):
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def start() -> None:
        barrier.wait()
        try:
            do_start_job(operator, cluster_row, "rebalance", {"transfer_mode": "block_writes"})
            outcomes.append("started")
        except JobAlreadyRunning as exc:
            outcomes.append(exc.user_message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("started") == 1, outcomes
    assert all("Already running as job" in o for o in outcomes if o != "started")
    job = Job.objects.get()
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 120, message=job_worker.logs())
    assert len(citus_jobs_since(citus, unbalanced["floor"])) == 1


def test_a_second_operator_is_told_where_the_running_job_is(
    client, operator, admin, cluster_row, unbalanced, job_worker
):
    client.force_login(operator)
    first = _start_rebalance(client, cluster_row, mode="force_logical")
    client.force_login(admin)
    response = client.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "yes"}, follow=True)
    body = response.content.decode()
    assert f"Already running as job {first.pk}" in body
    assert response.redirect_chain[-1][0] == f"/jobs/{first.pk}/"
    wait_for(lambda: job_state(first.pk) in Job.FINAL_STATES, 180, message=job_worker.logs())


def test_redis_down_when_start_is_pressed(client, operator, cluster_row, unbalanced, broker_down, citus):
    client.force_login(operator)
    response = client.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "yes"})
    assert response.status_code == 200
    assert "job queue (Celery broker) is not reachable" in response.content.decode()
    job = Job.objects.get()
    assert job.state == "failed" and "not reachable" in job.error  # not queued forever
    assert AuditEntry.objects.filter(action="jobs.rebalance.queue", outcome="failed").exists()
    assert citus_jobs_since(citus, unbalanced["floor"]) == []


def test_a_killed_worker_reattaches_to_the_running_citus_job(operator, cluster_row, unbalanced, job_worker, citus):
    job = do_start_job(operator, cluster_row, "rebalance", {"transfer_mode": "force_logical"})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 1, 120, message=job_worker.logs())
    job_worker.kill()
    job.refresh_from_db()
    assert job.state == "running"
    # The Citus job goes on without us.
    wait_for(lambda: citus_jobs_since(citus, unbalanced["floor"])[0][1] in ("running", "finished"), 30)
    job_worker.start()
    wait_for(lambda: sweep.sweep()["resumed"] or job_state(job.pk) in Job.FINAL_STATES, 30, interval=1)
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 180, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert len(citus_jobs_since(citus, unbalanced["floor"])) == 1  # never a second rebalance
    assert job.log.filter(message__contains="re-attaches").exists()


def test_a_killed_worker_during_blocking_work_interrupts_the_job_for_good(
    operator, cluster_row, unbalanced, job_worker, citus
):
    job = do_start_job(
        operator,
        cluster_row,
        "rebalance_table",
        {"relation": "jobs_t", "transfer_mode": "force_logical", "strategy": "by_shard_count"},
        target="jobs_t",
    )
    wait_for(lambda: Job.objects.get(pk=job.pk).backend_pid, 60, message=job_worker.logs())
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_total, 60, message=job_worker.logs())
    job_worker.kill()
    app_name = f"citusadmin/job-{job.pk}"

    def session_gone() -> bool:
        with citus.connect() as conn:
            return not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", (app_name,)
            ).fetchone()

    started = time.monotonic()
    wait_for(session_gone, 10, message="the blocking session outlived its worker")
    assert time.monotonic() - started < 10
    job_worker.start()
    wait_for(lambda: sweep.sweep()["interrupted"] or job_state(job.pk) == "interrupted", 30, interval=1)
    job.refresh_from_db()
    assert job.state == "interrupted" and "will not be re-run" in job.error
    time.sleep(3)
    assert session_gone()  # nothing started it again
    assert job_state(job.pk) == "interrupted"


def _leftovers(citus) -> list:
    with citus.connect() as conn:
        cleanup = conn.execute("SELECT object_type::text, object_name FROM pg_dist_cleanup").fetchall()
        slots = conn.execute(
            "SELECT 'coordinator', slot_name::text FROM pg_replication_slots UNION ALL "
            "SELECT nodeport::text, result FROM run_command_on_workers("
            "$$SELECT COALESCE(string_agg(slot_name, ','), '') FROM pg_replication_slots$$) WHERE result <> ''"
        ).fetchall()
    return cleanup + slots


def test_cancel_stops_the_citus_job_and_leaves_nothing_behind(
    client, operator, cluster_row, unbalanced, job_worker, citus
):
    # Leftovers of earlier tests (a killed blocking move) may still be listed: only new ones count.
    before = set(_leftovers(citus))
    client.force_login(operator)
    job = _start_rebalance(client, cluster_row, mode="force_logical")
    wait_for(lambda: Job.objects.get(pk=job.pk).citus_job_id, 60, message=job_worker.logs())
    wait_for(lambda: Job.objects.get(pk=job.pk).progress_done >= 1, 120, message=job_worker.logs())
    response = client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "Cancel requested" in response.content.decode()
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 60, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "cancelled" and "Finished moves are kept" in job.summary
    assert citus_jobs_since(citus, unbalanced["floor"])[0][1] == "cancelled"
    assert AuditEntry.objects.filter(action="jobs.rebalance.cancel", outcome="succeeded").exists()

    wait_for(
        lambda: set(_leftovers(citus)) <= before,
        90,
        interval=2,
        message=f"left behind: {set(_leftovers(citus)) - before}",
    )


def test_fifty_viewers_cost_the_coordinator_nothing(client, operator, viewer, cluster_row, unbalanced, job_worker):
    job = do_start_job(operator, cluster_row, "rebalance", {"transfer_mode": "force_logical"})
    wait_for(lambda: Job.objects.get(pk=job.pk).citus_job_id, 60, message=job_worker.logs())
    client.force_login(viewer)
    with count_queries() as web:
        for _ in range(50):
            response = client.get(f"/jobs/{job.pk}/progress/?after=0", HTTP_HX_REQUEST="true")
            assert response.status_code == 200
    assert web.count == 0  # viewers read the app database; only the supervisor talks to Citus
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 180, message=job_worker.logs())


def test_no_task_outlives_the_visibility_timeout():
    from django.conf import settings

    from jobs import tasks

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", settings.BROKER_VISIBILITY_TIMEOUT)
    for task in (tasks.run_job, tasks.supervise_job, tasks.sweep):
        assert task.time_limit < visibility, task.name
        assert task.acks_late is False, task.name  # at most once: the Job row decides what happens after a crash
    assert visibility > settings.JOB_SUPERVISOR_SLICE_SECONDS + 60


def test_the_permission_is_checked_again_when_the_task_starts(operator, cluster_row, transactional_db):
    from citusadmin.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "memory://"  # queued but never consumed: the runner is called as the worker would
    try:
        job = do_start_job(operator, cluster_row, "rebalance", {})
    finally:
        app.conf.broker_url = old
    operator.groups.clear()
    from django.contrib.auth.models import User

    runner.start(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert User.objects.get(pk=operator.pk).groups.count() == 0
    assert job.state == "failed" and "no longer has the permission jobs.start_rebalance" in job.error
    assert AuditEntry.objects.filter(job_id=job.pk, action="jobs.rebalance.end", outcome="failed").exists()


@pytest.fixture
def lacking_reference(controllable, spare_node, cluster_row):
    """A new node added after a reference table existed: Citus copies the reference table to it as the
    first task of the next rebalance."""
    with controllable.connect() as conn:
        conn.execute("CREATE TABLE prev_ref (id int PRIMARY KEY)")
        conn.execute("SELECT create_reference_table('prev_ref')")
        conn.execute("CREATE TABLE prev_dist (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('prev_dist', 'id', shard_count => 8)")
        conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (spare_node.port,))
    yield spare_node
    with controllable.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS prev_dist, prev_ref")
        conn.execute("CALL citus_cleanup_orphaned_resources()")


def test_the_preview_shows_every_task_the_rebalance_will_run(
    client, operator, cluster_row, lacking_reference, job_worker
):
    client.force_login(operator)
    form = {"scope": "cluster", "transfer_mode": "block_writes"}
    body = client.post(f"/c/{cluster_row.pk}/rebalance/", {**form, "confirm": "no"}).content.decode()
    assert 'id="plan-reference-copy"' in body and f"127.0.0.1:{lacking_reference.port}" in body
    moves = body.split('id="plan"')[1].split("</tbody>")[0].count("<tr><td>")
    assert moves > 0
    response = client.post(f"/c/{cluster_row.pk}/rebalance/", {**form, "confirm": "yes"})
    job = Job.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    wait_for(lambda: job_state(job.pk) in Job.FINAL_STATES, 180, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.progress_total == moves + 1  # the preview's moves and the reference copy, nothing else


def test_a_one_table_preview_counts_that_tables_placements_only(client, operator, cluster_row, unbalanced, citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE other_prev (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('other_prev', 'id', shard_count => 20, colocate_with => 'none')")
    try:
        client.force_login(operator)
        body = client.post(
            f"/c/{cluster_row.pk}/rebalance/",
            {"scope": "table", "relation": "jobs_t", "strategy": "by_shard_count", "confirm": "no"},
        ).content.decode()
        table = body.split("<h3>Placements per node</h3>")[1].split("</tbody>")[0]
        befores = [int(cell) for cell in re.findall(r'</code></td><td class="num">(\d+)</td>', table)]
        assert sum(befores) == 12  # jobs_t's 12 shards, not other_prev's 20 nor reference copies
        assert f"127.0.0.1:{citus.params['port']}" not in table  # the coordinator holds none of it
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE other_prev")


def test_the_rebalance_form_stays_small_with_many_tables(monkeypatch):
    from jobs import forms

    monkeypatch.setattr(forms, "MAX_TABLE_CHOICES", 3)
    tables = [f"public.t{i}" for i in range(1000)]
    form = forms.RebalanceForm(tables=tables, strategies=["by_shard_count"])
    assert "<option" not in str(form["relation"]) and "1,000 hash-distributed tables" in str(form["relation"].help_text)
    bad = forms.RebalanceForm({"scope": "table", "relation": "public.nope"}, tables=tables, strategies=[])
    assert not bad.is_valid() and "not a hash-distributed table" in str(bad.errors["relation"])
    good = forms.RebalanceForm({"scope": "table", "relation": "public.t7"}, tables=tables, strategies=[])
    assert good.is_valid(), good.errors


def test_a_slow_plan_is_computed_in_the_background_and_the_page_polls_for_it(
    client, operator, cluster_row, unbalanced, job_worker, settings
):
    """Citus's plan took seconds at 1,000 tables and the page froze; beyond the inline limit a worker
    computes it and the page says so, then shows it."""
    import html as html_lib

    settings.REBALANCE_PREVIEW_INLINE_MS = 1
    client.force_login(operator)
    started = time.monotonic()
    body = client.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "no"}).content.decode()
    assert time.monotonic() - started < 1.5
    assert 'id="plan-computing"' in body and 'id="plan"' not in body
    poll = html_lib.unescape(body.split('hx-get="')[1].split('"')[0])
    fragment = wait_for(
        lambda: (lambda b: b if 'id="plan"' in b else None)(client.get(poll).content.decode()),
        60,
        message=job_worker.logs(),
    )
    assert f"127.0.0.1:{unbalanced['spare'].port}" in fragment and "citus_rebalance_start(" in fragment
    assert "hx-trigger" not in fragment  # polling stops with the plan
    again = client.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "no"}).content.decode()
    assert 'id="plan"' in again  # without JavaScript, Preview again shows the plan just computed
