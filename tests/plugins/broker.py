"""A real broker (the embedded filesystem one, or Redis) and real Celery worker processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FS_BROKER, app_database_url, redis_answers, use_broker


@pytest.fixture(scope="session")
def broker_url(request: pytest.FixtureRequest) -> str:
    """The broker job tests run on: the embedded default that ./run uses (atomic filesystem transport),
    or Redis when CITUSADMIN_TEST_BROKER=redis (CI runs the suite once with each)."""

    if os.environ.get("CITUSADMIN_TEST_BROKER", "filesystem") == "redis":
        return str(request.getfixturevalue("redis_url"))
    return FS_BROKER


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on 6379 (database 15), or a redis-server started on a free port."""
    if redis_answers(6379):
        yield "redis://127.0.0.1:6379/15"
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no Redis answers on 127.0.0.1:6379 and redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        if redis_answers(port):
            break
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


class WorkerProcess:
    """A real ``celery worker`` consuming ``queue`` and ``queue.collect`` on the given broker."""

    def __init__(self, broker_url: str, queue: str, log: Path, pool: str = "threads") -> None:
        import sys

        self.broker_url = broker_url
        self.queue = queue
        self.log = log
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "citusadmin.settings",
            "CITUSADMIN_DATABASE_URL": app_database_url(),
            "CITUSADMIN_CELERY_QUEUE": queue,
            "CITUSADMIN_WORKER_HEARTBEAT_SECONDS": "1",
            # figures the worker computes (a background rebalance plan) go where this process reads them
            "CITUSADMIN_SHARED_CACHE": "files",
        }
        env.pop("CITUSADMIN_REDIS_URL", None)
        if broker_url != FS_BROKER:
            env["CITUSADMIN_REDIS_URL"] = broker_url
        self._fh = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "citusadmin",
                "worker",
                "-P",
                pool,
                "-c",
                "4",
                "-Q",
                f"{queue},{queue}.collect",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "INFO",
                "-n",
                f"{queue}@%h",
            ],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],  # the repository (this file is tests/plugins/broker.py)
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"Celery worker not ready: {self.log.read_text()[-3000:]}")

    def send(self, task_name: str, *args: Any) -> None:
        from citusadmin.celery import app

        with use_broker(self.broker_url), app.connection_for_write() as conn:
            app.send_task(task_name, args=args, queue=self.queue, connection=conn)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._fh.close()


@pytest.fixture
def celery_worker_process(broker_url: str, transactional_db: None, tmp_path: Path) -> Iterator[WorkerProcess]:
    import uuid

    worker = WorkerProcess(broker_url, f"test-{uuid.uuid4().hex[:8]}", tmp_path / "worker.log")
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def broker_down() -> Iterator[None]:
    """Point the Celery app at a port where no broker listens."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with use_broker(f"redis://127.0.0.1:{port}/0"):
        yield


class JobWorker:
    """A real Celery worker on a private queue; the test process publishes to it too."""

    def __init__(self, broker_url: str, tmp_path: Path) -> None:
        import uuid

        self.broker_url = broker_url
        self.queue = f"jobs-{uuid.uuid4().hex[:8]}"
        self.tmp_path = tmp_path
        self.generation = 0
        self.worker: WorkerProcess | None = None

    def start(self) -> WorkerProcess:
        self.generation += 1
        self.worker = WorkerProcess(self.broker_url, self.queue, self.tmp_path / f"worker-{self.generation}.log")
        self.worker.wait_ready()
        return self.worker

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, no cleanup."""
        assert self.worker is not None
        self.worker.proc.kill()
        self.worker.proc.wait(10)
        self.worker._fh.close()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.tmp_path.glob("worker-*.log")))

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()


@pytest.fixture
def job_worker(broker_url: str, transactional_db: None, tmp_path: Path) -> Iterator[JobWorker]:
    worker = JobWorker(broker_url, tmp_path)
    with use_broker(broker_url, worker.queue):
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()


@pytest.fixture
def worker_heartbeat(db: None) -> None:
    """Fresh heartbeats of a worker and beat (good for WORKER_STALE_SECONDS), for tests about something
    else than the workers: without them every page rightly shows the red "no worker" banner."""
    from django.core.cache import cache

    from jobs import heartbeat

    heartbeat.beat("worker@test", "worker", "celery")
    heartbeat.beat("beat@test", "beat")
    cache.clear()
