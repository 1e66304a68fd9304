"""Shared fixtures: a real Citus cluster, a real Redis, and a fixed cast of users."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from citusadmin.citus.connection import close_pools, count_queries
from tests.cluster import CitusCluster, find_cluster

# --- counting real-cluster tests for CI's summary line --------------------------------------------

_cluster_outcomes: dict[str, str] = {}


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    for item in items:
        if "citus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "cluster" not in report.keywords:
        return
    if report.when == "setup" and report.skipped:
        _cluster_outcomes[report.nodeid] = "skipped"
    elif report.when == "call":
        _cluster_outcomes[report.nodeid] = "skipped" if report.skipped else ("passed" if report.passed else "failed")
    elif report.failed:
        _cluster_outcomes[report.nodeid] = "failed"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    values = list(_cluster_outcomes.values())
    ran = sum(1 for v in values if v in ("passed", "failed"))
    line = (
        f"real-cluster tests: {ran} ran ({values.count('passed')} passed, {values.count('failed')} failed), "
        f"{values.count('skipped')} skipped"
    )
    terminalreporter.write_line(line)
    if _cluster_reason:
        terminalreporter.write_line(f"real-cluster tests skipped because: {_cluster_reason}")
    summary = Path(terminalreporter.config.rootpath) / "var" / "cluster-tests.txt"
    summary.parent.mkdir(exist_ok=True)
    summary.write_text(line + "\n")


_cluster_reason = ""

# --- the real cluster ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def citus() -> Iterator[CitusCluster]:
    global _cluster_reason
    cluster, reason = find_cluster()
    if cluster is None:
        _cluster_reason = reason
        pytest.skip(reason)
    try:
        yield cluster
    finally:
        close_pools()
        for step in cluster.cleanup:  # in the order they were registered: stop servers, then delete files
            step()


@pytest.fixture
def coordinator_queries() -> Iterator[Any]:
    with count_queries() as counter:
        yield counter


@pytest.fixture
def controllable(citus: CitusCluster) -> CitusCluster:
    if citus.sandbox is None:
        pytest.skip("this test stops and starts nodes: it needs the local sandbox cluster")
    return citus


# --- a real Redis ---------------------------------------------------------------------------------


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


FS_BROKER = "filesystem://"


@pytest.fixture(scope="session")
def broker_url(request: pytest.FixtureRequest) -> str:
    """The broker job tests run on: the embedded default that ./run uses (atomic filesystem transport),
    or Redis when CITUSADMIN_TEST_BROKER=redis (CI runs the suite once with each)."""
    import os

    if os.environ.get("CITUSADMIN_TEST_BROKER", "filesystem") == "redis":
        return str(request.getfixturevalue("redis_url"))
    return FS_BROKER


@contextlib.contextmanager
def use_broker(url: str, queue: str | None = None) -> Iterator[None]:
    """Point this process's Celery app at ``url`` (and ``queue``); restore afterwards. The transport
    class is set with the URL: the embedded one is chosen by CELERY_BROKER_TRANSPORT, not the scheme."""
    from citusadmin.celery import app

    old = app.conf.broker_url, app.conf.broker_transport, app.conf.task_default_queue
    app.conf.broker_url = url
    app.conf.broker_transport = "citusadmin.fs_broker:Transport" if url == FS_BROKER else None
    if queue is not None:
        app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport, app.conf.task_default_queue = old


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on 6379 (database 15), or a redis-server started on a free port."""
    if _redis_answers(6379):
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
        if _redis_answers(port):
            break
        time.sleep(0.1)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


# --- the cast -----------------------------------------------------------------------------------


def _user(username: str, role: str | None) -> User:
    if not Group.objects.exists():  # a transactional test flushed the roles the migration made
        from django.apps import apps

        from accounts.roles import sync_roles

        sync_roles(apps)
    user = User.objects.create_user(username=username, password=f"{username}-password-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin(db: None) -> User:
    return _user("alice-admin", "Admin")


@pytest.fixture
def operator(db: None) -> User:
    return _user("oscar-operator", "Operator")


@pytest.fixture
def viewer(db: None) -> User:
    return _user("victor-viewer", "Viewer")


@pytest.fixture
def auditor(db: None) -> User:
    return _user("audrey-auditor", "Auditor")


@pytest.fixture
def requester(db: None) -> User:
    return _user("rita-requester", "Requester")


@pytest.fixture
def second_admin(db: None) -> User:
    return _user("bob-admin", "Admin")


@pytest.fixture
def cluster_row(db: None, citus: CitusCluster) -> Any:
    """The test cluster registered in the console (through the model, as the sandbox command does)."""
    from clusters.models import Cluster

    params = citus.params
    cluster = Cluster(
        name="test",
        host=params["host"],
        port=int(params["port"]),
        dbname=params.get("dbname", "postgres"),
        user=params.get("user", ""),
        sslmode=params.get("sslmode", "prefer"),
    )
    if params.get("password"):
        cluster.set_password(params["password"])
    cluster.save()
    return cluster


def login(client: Any, user: User) -> Any:
    client.force_login(user)
    return client


# --- a real Celery worker -----------------------------------------------------------------------


def app_database_url() -> str:
    """The URL of the test database, for processes (Celery workers) that must share it."""
    from django.db import connection

    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{cfg['NAME']}"
    user = cfg.get("USER") or ""
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


class WorkerProcess:
    """A real ``celery worker`` consuming ``queue`` and ``queue.collect`` on the given broker."""

    def __init__(self, broker_url: str, queue: str, log: Path, pool: str = "threads") -> None:
        import os
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
            cwd=Path(__file__).resolve().parent.parent,
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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Transactional tests empty every table with TRUNCATE between tests; on PostgreSQL the audit
    table refuses TRUNCATE (migration audit 0002), so the test database lifts that one guard.
    Row-level UPDATE/DELETE refusal stays on and is tested."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_no_truncate")


# --- a hung node: accepts connections and never answers --------------------------------------------


class HungServer:
    """Listens on ``port``; accepts every connection and never sends a byte."""

    def __init__(self, port: int) -> None:
        import threading

        self.port = port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.clients: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            self.clients.append(client)

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        for client in self.clients:
            client.close()
        self.sock.close()


@pytest.fixture
def hung_worker(controllable: CitusCluster) -> Iterator[Any]:
    """Worker 2 replaced by a socket that accepts and never answers, then restored."""
    sandbox = controllable.sandbox
    assert sandbox is not None
    node = sandbox.workers[1]
    sandbox.stop_node(node, mode="immediate")
    server = HungServer(node.port)
    try:
        yield node
    finally:
        server.close()
        sandbox.start_node(node)
        sandbox.wait_ready(node)


@pytest.fixture
def broker_down() -> Iterator[None]:
    """Point the Celery app at a port where no broker listens."""

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with use_broker(f"redis://127.0.0.1:{port}/0"):
        yield


@pytest.fixture
def spare_node(controllable: CitusCluster) -> Iterator[Any]:
    """A fourth PostgreSQL+Citus instance, not yet in the cluster; removed from it afterwards."""
    import uuid

    sandbox = controllable.sandbox
    assert sandbox is not None
    node = sandbox.add_spare_node(f"spare-{uuid.uuid4().hex[:6]}")
    try:
        yield node
    finally:
        wait_metadata_synced(controllable)
        with controllable.connect() as conn:
            row = conn.execute(
                "SELECT nodeid FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = %s", (node.port,)
            ).fetchone()
            if row:
                conn.execute("SELECT citus_remove_node('127.0.0.1', %s)", (node.port,))
        close_pools()
        sandbox.drop_spare_node(node)


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


def wait_metadata_synced(cluster: CitusCluster, timeout: float = 60) -> None:
    """Citus's maintenance daemon re-syncs metadata after topology changes; wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with cluster.connect() as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_dist_node WHERE hasmetadata AND NOT metadatasynced AND isactive"
            ).fetchone():
                return
        time.sleep(0.5)


@pytest.fixture(autouse=True)
def _audit_checkpoint_file(tmp_path: Path, settings: Any) -> None:
    """Each test's audit checkpoints in a file of its own: tables are emptied between tests, and a
    checkpoint left by an earlier test would (rightly) read as a deleted tail."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.log"


@pytest.fixture
def worker_heartbeat(db: None) -> None:
    """Fresh heartbeats of a worker and beat (good for WORKER_STALE_SECONDS), for tests about something
    else than the workers: without them every page rightly shows the red "no worker" banner."""
    from django.core.cache import cache

    from jobs import heartbeat

    heartbeat.beat("worker@test", "worker", "celery")
    heartbeat.beat("beat@test", "beat")
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_shared_figures() -> None:
    """Monitoring figures are shared between requests (monitoring.shared); not between tests."""
    from django.core.cache import caches

    caches["shared"].clear()


@pytest.fixture(autouse=True)
def _steady_worker_banner() -> None:
    """The banner's worker status is cached 5 s per process; a test that compares query counts must not
    see it expire between two requests. Pinned to "no worker seen" (the truth for most tests); tests
    about workers and banners clear the cache and read the real heartbeats."""
    from django.conf import settings as django_settings
    from django.core.cache import cache

    from jobs.heartbeat import _CACHE_KEY, WorkerStatus

    cache.set(_CACHE_KEY, WorkerStatus(None, None, django_settings.WORKER_STALE_SECONDS), 3600)
