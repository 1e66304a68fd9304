"""./run's processes: supervised, restarted when they die, and the console says when none runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from jobs.models import Job, WorkerHeartbeat
from tests.helpers import app_database_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out: {what}" + (f"\n{log.read_text()[-3000:]}" if log and log.exists() else ""))


@pytest.mark.broker
def test_run_restarts_a_killed_worker_and_logs_it(transactional_db, tmp_path):
    """The supervisord configuration ./run starts, on its default broker: kill -9 the job worker and
    beat; both come back (new heartbeats, new pids), supervisord's log says so, the web server answers."""
    var = tmp_path / "var"
    (var / "log").mkdir(parents=True)
    (var / "run").mkdir()
    var.chmod(0o700)
    port = _free_port()
    queue = f"run-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "citusadmin.settings",
        "CITUSADMIN_VAR_DIR": str(var),
        "CITUSADMIN_DATABASE_URL": app_database_url(),
        "CITUSADMIN_BIND": f"127.0.0.1:{port}",
        "CITUSADMIN_CELERY_QUEUE": queue,
        "CITUSADMIN_WEB_WORKERS": "1",
        "CITUSADMIN_WEB_THREADS": "2",
        "CITUSADMIN_WORKER_CONCURRENCY": "1",
        "CITUSADMIN_WORKER_HEARTBEAT_SECONDS": "1",
        "CITUSADMIN_HTTPS": "false",
    }
    env.pop("CITUSADMIN_REDIS_URL", None)
    base = Path(settings.BASE_DIR)
    supervisor = subprocess.Popen(
        [str(base / ".venv/bin/supervisord"), "-n", "-c", str(base / "scripts/supervisord.conf")],
        env=env,
        cwd=base,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = var / "log" / "supervisord.log"
    try:
        jobs_name = f"jobs@{socket.gethostname()}"
        first = _wait(
            lambda: WorkerHeartbeat.objects.filter(name=jobs_name, queues=queue).first(), 60, "job worker", log
        )
        beat = _wait(lambda: WorkerHeartbeat.objects.filter(kind="beat").first(), 60, "beat heartbeat", log)
        _wait(
            lambda: WorkerHeartbeat.objects.filter(
                name=f"collect@{socket.gethostname()}", queues=f"{queue}.collect"
            ).exists(),
            60,
            "collection worker",
            log,
        )
        os.kill(first.pid, signal.SIGKILL)
        os.kill(beat.pid, signal.SIGKILL)
        _wait(
            lambda: WorkerHeartbeat.objects.filter(name=jobs_name).exclude(pid=first.pid).exists(),
            60,
            "a new job worker",
            log,
        )
        _wait(lambda: WorkerHeartbeat.objects.filter(kind="beat").exclude(pid=beat.pid).exists(), 60, "a new beat", log)
        text = log.read_text()
        assert "exited: worker (terminated by SIGKILL; not expected)" in text
        assert "exited: beat (terminated by SIGKILL; not expected)" in text
        assert text.count("spawned: 'worker'") >= 2
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=10) as response:
            assert response.status == 200
        assert var.stat().st_mode & 0o077 == 0
        assert all(p.stat().st_mode & 0o077 == 0 for p in (var / "log").iterdir())
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(60)
        except subprocess.TimeoutExpired:
            supervisor.kill()


def _heartbeat(kind: str, age_seconds: int, name: str | None = None) -> None:
    from django.core.cache import cache

    cache.clear()  # the banner caches the status for 5 s
    seen = timezone.now() - timedelta(seconds=age_seconds)
    WorkerHeartbeat.objects.update_or_create(
        name=name or f"{kind}@test",
        defaults={"kind": kind, "pid": 1, "started_at": seen, "seen_at": seen},
    )


def test_every_page_says_when_no_worker_runs(client, viewer):
    from django.core.cache import cache

    cache.clear()
    client.force_login(viewer)
    body = client.get("/jobs/").content.decode()
    assert 'id="no-worker-banner"' in body and "No Celery worker has ever reported" in body
    _heartbeat("worker", settings.WORKER_STALE_SECONDS + 30)
    _heartbeat("beat", 1)
    body = client.get("/clusters/").content.decode()
    assert 'id="no-worker-banner"' in body and "was seen" in body
    _heartbeat("worker", 1)
    body = client.get("/clusters/").content.decode()
    assert "no-worker-banner" not in body and "no-beat-banner" not in body
    _heartbeat("beat", settings.WORKER_STALE_SECONDS + 30)
    assert 'id="no-beat-banner"' in client.get("/clusters/").content.decode()


def test_a_stalled_job_says_no_worker_runs_instead_of_a_frozen_time_left(client, viewer, cluster_row):
    started = timezone.now() - timedelta(seconds=30)
    job = Job.objects.create(
        cluster=cluster_row,
        kind="rebalance",
        state=Job.State.RUNNING,
        started_at=started,
        lease_owner="gone",
        lease_until=timezone.now() - timedelta(seconds=20),
        progress_total=12,
        progress_done=4,
        citus_job_id=7,
    )
    client.force_login(viewer)
    body = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "No worker is running: this job is waiting" in body
    assert "Time left" not in body
    _heartbeat("worker", 1)
    _heartbeat("beat", 1)
    body = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    assert "No worker is running" not in body
    assert "Time left" not in body  # its runner is gone: the pace says nothing about the rest
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() + timedelta(seconds=10))
    assert "Time left" in client.get(f"/jobs/{job.pk}/progress/").content.decode()
    Job.objects.filter(pk=job.pk).update(retries=3, retry_message="could not connect to server")
    body = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    assert "Time left" not in body and "Citus is retrying a task that failed (3 of 32" in body


def test_refresh_now_pressed_again_queues_nothing_more(client, operator, cluster_row):
    """On the default broker, with no worker: one message in the collection queue, however many presses."""
    from citusadmin.celery import app

    client.force_login(operator)
    first = client.post(f"/c/{cluster_row.pk}/refresh/", follow=True).content.decode()
    assert "Measurement queued" in first
    for _ in range(5):
        again = client.post(f"/c/{cluster_row.pk}/refresh/", follow=True).content.decode()
        assert "already queued" in again
    queue = f"{app.conf.task_default_queue}.collect"
    folder = Path(settings.VAR_DIR) / "broker" / "queue"
    assert len([p for p in folder.iterdir() if p.name.endswith(f".{queue}.msg")]) == 1
    for p in folder.iterdir():
        p.unlink()


def test_refresh_follows_only_same_site_next(client, operator, cluster_row):
    client.force_login(operator)
    for evil in ("https://evil.example/phish", "//evil.example/x", "javascript:alert(1)", "/\\evil.example"):
        response = client.post(f"/c/{cluster_row.pk}/refresh/", {"next": evil})
        assert response.status_code == 302
        assert response["Location"] == f"/c/{cluster_row.pk}/", evil
    response = client.post(f"/c/{cluster_row.pk}/refresh/", {"next": f"/c/{cluster_row.pk}/tables/"})
    assert response["Location"] == f"/c/{cluster_row.pk}/tables/"


def test_sweeps_that_piled_up_re_attach_a_job_once(transactional_db, cluster_row):
    """Sweeps queued while the worker was away run together when it is back: one re-attach, one log line."""
    import threading

    from django.db import connections

    from jobs import sweep as sweeper
    from jobs.models import JobLogEntry
    from tests.helpers import use_broker

    job = Job.objects.create(
        cluster=cluster_row,
        kind="rebalance",
        state=Job.State.RUNNING,
        started_at=timezone.now(),
        lease_owner="dead",
        lease_until=timezone.now() - timedelta(seconds=30),
        citus_job_id=1,
    )
    results: list[dict[str, int]] = []

    def sweep() -> None:
        try:
            results.append(sweeper.sweep())
        finally:
            connections.close_all()

    with use_broker("filesystem://", f"sweep-{uuid.uuid4().hex[:6]}"):
        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert sum(r["resumed"] for r in results) == 1
    assert JobLogEntry.objects.filter(job=job, message__contains="re-attaches").count() == 1
