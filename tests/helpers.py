"""Helpers tests import (never from a conftest file): brokers, waiting, the cluster's state, signing in."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.models import User

from jobs.models import Job
from tests.cluster import CitusCluster

FS_BROKER = "filesystem://"


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


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


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


def login(client: Any, user: User) -> Any:
    client.force_login(user)
    return client


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


def wait_for(predicate, timeout: float = 60, interval: float = 0.25, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {message}")
        time.sleep(interval)


def job_state(job_id: int) -> str:
    return Job.objects.get(pk=job_id).state


def citus_jobs_since(citus, floor: int) -> list[tuple]:
    with citus.connect() as conn:
        return conn.execute(
            "SELECT job_id, state::text FROM pg_dist_background_job WHERE job_id > %s ORDER BY job_id", (floor,)
        ).fetchall()


def placements_on(citus, port: int) -> int:
    with citus.connect() as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE n.nodeport = %s",
            (port,),
        ).fetchone()[0]


def sign_in(page: Any, live_server: Any, user: Any) -> None:
    """Sign in through the login form (the cast's passwords are '<username>-password-123')."""
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"{user.username}-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
