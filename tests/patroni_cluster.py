"""A real Patroni-managed Citus cluster for the tests: one etcd, and Patroni (Citus mode) managing a
coordinator group of two members, worker group 1 of two members and worker group 2 of one, all on
free local ports, from the installed packages (Debian's ``etcd-server``; Patroni from PyPI in a
virtualenv the ``postgres`` user can run: ``CITUSADMIN_PATRONI_VENV``, default
``/opt/citusadmin-patroni/venv``; ``.ci/run`` installs both when missing)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from citusadmin.citus.sandbox import _pg_config, citus_installed, free_port

PATRONI_VENV = Path(os.environ.get("CITUSADMIN_PATRONI_VENV", "/opt/citusadmin-patroni/venv"))
LAYOUT = ((0, "c0"), (0, "c1"), (1, "w1a"), (1, "w1b"), (2, "w2a"))


def patroni_available() -> tuple[bool, str]:
    ok, why = citus_installed()
    if not ok:
        return False, why
    if shutil.which("etcd") is None:
        return False, "etcd is not installed (Debian package etcd-server)"
    if not (PATRONI_VENV / "bin" / "patroni").exists():
        return False, f"Patroni is not installed in {PATRONI_VENV} (pip install 'patroni[etcd3,psycopg3]==4.1.5')"
    return True, ""


@dataclass
class Member:
    name: str
    group: int
    port: int
    api_port: int
    datadir: Path
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


@dataclass
class PatroniCluster:
    root: Path
    scope: str
    etcd_port: int
    members: list[Member] = field(default_factory=list)
    etcd: subprocess.Popen[bytes] | None = None

    @property
    def etcd_url(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    def group_members(self, group: int) -> list[Member]:
        return [m for m in self.members if m.group == group]

    # --- reading the DCS the way an operator would -------------------------------------------------
    def dcs(self) -> dict[str, Any]:
        prefix = f"/service/{self.scope}/"
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        body = json.dumps(
            {"key": base64.b64encode(prefix.encode()).decode(), "range_end": base64.b64encode(end.encode()).decode()}
        ).encode()
        with urllib.request.urlopen(urllib.request.Request(f"{self.etcd_url}/v3/kv/range", data=body), timeout=5) as r:
            kvs = json.loads(r.read()).get("kvs", [])
        return {
            base64.b64decode(kv["key"]).decode()[len(prefix) :]: base64.b64decode(kv.get("value", "")).decode()
            for kv in kvs
        }

    def leader(self, group: int) -> str | None:
        return self.dcs().get(f"{group}/leader")

    def coordinator_params(self, dbname: str = "citus") -> dict[str, str]:
        members = self.group_members(0)
        return {
            "host": ",".join("127.0.0.1" for _ in members),
            "port": ",".join(str(m.port) for m in members),
            "dbname": dbname,
            "user": "postgres",
            "password": "postgres-secret",
            "target_session_attrs": "read-write",
            "sslmode": "prefer",
            "connect_timeout": "3",
        }

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.coordinator_params(), autocommit=True)

    def patronictl_list(self) -> list[dict[str, Any]]:
        out = subprocess.run(
            [str(PATRONI_VENV / "bin" / "patronictl"), "-c", str(self.members[0].config), "list", "-f", "json"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return json.loads(out)

    # --- life cycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = 180) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        peer = free_port()
        etcd_dir = self.root / "etcd"
        self.etcd = subprocess.Popen(
            [
                "etcd",
                "--name=t",
                f"--data-dir={etcd_dir}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=t=http://127.0.0.1:{peer}",
                "--log-level=error",
            ],
            stdout=(self.root / "etcd.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait(lambda: _get(f"{self.etcd_url}/health") is not None, 30, "etcd did not start")
        for group, name in LAYOUT:
            member = Member(name, group, free_port(), free_port(), self.root / name, self.root / f"{name}.yml")
            member.config.write_text(self._config(member))
            shutil.chown(member.config, "postgres", "postgres")
            self.members.append(member)
        for member in self.members:
            self.start_member(member)
        _wait(self._formed, timeout, lambda: "the Patroni cluster did not form: " + self.logs())

    def wait_healthy(self, timeout: float = 120) -> None:
        """Every group led, every replica streaming, pg_dist_node on every leader (after a failover the
        old leader takes a while to come back as a replica)."""

        def healthy() -> bool:
            if not self._formed():
                return False
            keys = self.dcs()
            with self.connect() as conn:
                rows = conn.execute("SELECT groupid, nodeport FROM pg_dist_node WHERE noderole = 'primary'").fetchall()
            for group, port in rows:
                leader = keys.get(f"{group}/leader")
                if leader is None or self.member(leader).port != port:
                    return False
            return True

        _wait(healthy, timeout, lambda: "the Patroni cluster is not healthy: " + self.logs())

    def _formed(self) -> bool:
        keys = self.dcs()
        if not all(f"{g}/leader" in keys for g in (0, 1, 2)):
            return False
        try:
            with self.connect() as conn:
                rows = conn.execute(
                    "SELECT count(*) FILTER (WHERE noderole = 'primary'), count(*) FILTER (WHERE noderole = 'secondary') "
                    "FROM pg_dist_node"
                ).fetchone()
        except psycopg.Error:
            return False
        members = [json.loads(v) for k, v in keys.items() if "/members/" in k]
        streaming = [m for m in members if m.get("role") != "primary" and m.get("state") in ("streaming", "running")]
        running = all(m.get("state") == "running" for m in members) and len(members) == len(self.members)
        return rows is not None and rows[0] == 3 and len(streaming) == 2 and running

    def start_member(self, member: Member) -> None:
        log = (self.root / f"{member.name}.log").open("ab")
        member.process = subprocess.Popen(
            ["runuser", "-u", "postgres", "--", str(PATRONI_VENV / "bin" / "patroni"), str(member.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_postgres(self, member: Member) -> None:
        """kill -9 the member's postmaster (Patroni keeps running and reacts)."""
        pid = int((member.datadir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for member in self.members:
            if member.process and member.process.poll() is None:
                os.killpg(member.process.pid, signal.SIGTERM)
        for member in self.members:
            if member.process:
                try:
                    member.process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(member.process.pid, signal.SIGKILL)
            pidfile = member.datadir / "postmaster.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            self.etcd.wait(10)

    def logs(self, tail: int = 2000) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in sorted(self.root.glob("*.log"))
        )

    def _config(self, m: Member) -> str:
        bindir = _pg_config("--bindir")
        config = {
            "scope": self.scope,
            "namespace": "/service/",
            "name": m.name,
            "restapi": {"listen": f"127.0.0.1:{m.api_port}", "connect_address": f"127.0.0.1:{m.api_port}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "citus": {"group": m.group, "database": "citus"},
            "bootstrap": {
                "dcs": {
                    "ttl": 10,
                    "loop_wait": 1,
                    "retry_timeout": 5,
                    "primary_start_timeout": 0,  # fail over at once (the default restarts in place)
                    "maximum_lag_on_failover": 1048576,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "max_connections": 60,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_level": "logical",
                            "output_plugin_libraries": "pgoutput, test_decoding, citus",
                            "shared_buffers": "32MB",
                            "fsync": "off",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{m.port}",
                "connect_address": f"127.0.0.1:{m.port}",
                "data_dir": str(m.datadir),
                "bin_dir": bindir,
                "pgpass": str(self.root / f"{m.name}.pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres-secret"},
                    "replication": {"username": "replicator", "password": "replicator-secret"},
                    "rewind": {"username": "postgres", "password": "postgres-secret"},
                },
                "parameters": {"unix_socket_directories": str(self.root)},
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                    "hostssl all all 127.0.0.1/32 trust",
                    "hostssl replication all 127.0.0.1/32 trust",
                ],
            },
            "tags": {},
        }
        return json.dumps(config)  # YAML is a superset of JSON


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.read()
    except Exception:
        return None


def _wait(predicate: Any, timeout: float, message: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError(message() if callable(message) else message)


def start_patroni_cluster() -> PatroniCluster:
    root = Path(tempfile.mkdtemp(prefix="citusadmin-patroni-"))
    os.chmod(root, 0o755)
    cluster = PatroniCluster(root, f"citusha-{uuid.uuid4().hex[:6]}", free_port())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster
