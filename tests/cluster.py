"""Finding a real Citus cluster for the tests: installed extension, testcontainers, or external."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from citusadmin.citus.connection import ClusterTarget
from citusadmin.citus.sandbox import Sandbox, SandboxNode, citus_installed

EXTERNAL_ENV = "CITUSADMIN_TEST_CLUSTER"
CITUS_IMAGE = os.environ.get("CITUSADMIN_TEST_CITUS_IMAGE", "citusdata/citus:13.2")


@dataclass
class CitusCluster:
    """A running cluster. ``sandbox`` is set when the tests may stop and start its nodes."""

    source: str
    params: dict[str, str]
    sandbox: Sandbox | None = None
    cleanup: list[Any] = field(default_factory=list)

    def target(self, label: str = "test") -> ClusterTarget:
        return ClusterTarget.from_params(label, key=f"test:{label}:{self.params['port']}", **self.params)

    def connect(self, **overrides: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(**{**self.params, **overrides}, autocommit=True)

    @property
    def workers(self) -> list[SandboxNode]:
        return self.sandbox.workers if self.sandbox else []

    @contextmanager
    def worker_stopped(self, index: int = 0) -> Iterator[SandboxNode]:
        """Stop one worker for the duration of the block (sandbox clusters only)."""
        assert self.sandbox is not None
        node = self.sandbox.workers[index]
        self.sandbox.stop_node(node, mode="immediate")
        try:
            yield node
        finally:
            self.sandbox.start_node(node)
            self.sandbox.wait_ready(node)


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _from_sandbox() -> CitusCluster:
    root = Path(tempfile.mkdtemp(prefix="citusadmin-test-cluster-"))
    sandbox = Sandbox(root)
    sandbox.up(workers=2)
    cluster = CitusCluster("installed Citus extension (local sandbox)", sandbox.params(), sandbox=sandbox)
    cluster.cleanup.append(lambda: sandbox.down(destroy=True))
    cluster.cleanup.append(lambda: shutil.rmtree(root, ignore_errors=True))
    return cluster


def _from_testcontainers() -> CitusCluster:
    from testcontainers.core.network import Network
    from testcontainers.postgres import PostgresContainer

    network = Network().__enter__()
    containers = []
    for name in ("coordinator", "worker1", "worker2"):
        container = (
            PostgresContainer(CITUS_IMAGE, username="postgres", password="postgres", dbname="postgres")
            .with_network(network)
            .with_network_aliases(name)
        )
        container.start()
        containers.append(container)
    coordinator = containers[0]
    params = {
        "host": coordinator.get_container_host_ip(),
        "port": str(coordinator.get_exposed_port(5432)),
        "dbname": "postgres",
        "user": "postgres",
        "password": "postgres",
    }
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host('coordinator', 5432)")
        for name in ("worker1", "worker2"):
            conn.execute("SELECT citus_add_node(%s, 5432)", (name,))
    cluster = CitusCluster(f"testcontainers ({CITUS_IMAGE})", params)
    for container in containers:
        cluster.cleanup.append(container.stop)
    cluster.cleanup.append(lambda: network.__exit__(None, None, None))
    return cluster


def _from_environment(conninfo: str) -> CitusCluster:
    params = {k: v for k, v in psycopg.conninfo.conninfo_to_dict(conninfo).items() if v is not None}
    return CitusCluster(f"external cluster from {EXTERNAL_ENV}", {k: str(v) for k, v in params.items()})


def find_cluster() -> tuple[CitusCluster | None, str]:
    """The first cluster source that works here, or None and the reason none did."""
    reasons = []
    ok, why = citus_installed()
    if ok:
        return _from_sandbox(), ""
    reasons.append(why)
    if _docker_available():
        return _from_testcontainers(), ""
    reasons.append("no Docker engine answers")
    conninfo = os.environ.get(EXTERNAL_ENV)
    if conninfo:
        return _from_environment(conninfo), ""
    reasons.append(f"{EXTERNAL_ENV} is not set")
    return None, "no Citus cluster available: " + "; ".join(reasons)
