"""Shared fixtures: a real Citus cluster, a real Redis, and a fixed cast of users."""

from __future__ import annotations

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
    line = (f"real-cluster tests: {ran} ran ({values.count('passed')} passed, {values.count('failed')} failed), "
            f"{values.count('skipped')} skipped")
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
        for step in reversed(cluster.cleanup):
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
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), "--maxmemory-policy", "noeviction"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
def cluster_row(db: None, citus: CitusCluster) -> Any:
    """The test cluster registered in the console (through the model, as the sandbox command does)."""
    from clusters.models import Cluster

    params = citus.params
    cluster = Cluster(name="test", host=params["host"], port=int(params["port"]), dbname=params.get("dbname", "postgres"),
                      user=params.get("user", ""), sslmode=params.get("sslmode", "prefer"))
    if params.get("password"):
        cluster.set_password(params["password"])
    cluster.save()
    return cluster


def login(client: Any, user: User) -> Any:
    client.force_login(user)
    return client
