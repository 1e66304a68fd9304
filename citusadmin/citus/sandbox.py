"""A local Citus cluster (coordinator + workers) built from the Citus extension installed here.

Backs ``manage.py citus_sandbox up|down|status`` and the test suite's cluster fixture. Each node is
a PostgreSQL instance in ``root/<name>`` listening on 127.0.0.1 only, with trust authentication:
a sandbox for trying the console, never a production layout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


class SandboxError(Exception):
    """The sandbox cannot be started here; the message says why."""


@dataclass(frozen=True)
class SandboxNode:
    name: str  # 'coordinator', 'worker1', ...
    port: int

    @property
    def is_coordinator(self) -> bool:
        return self.name == "coordinator"


def _pg_config(flag: str) -> str:
    try:
        return subprocess.run(["pg_config", flag], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SandboxError(f"pg_config is not available ({exc}); install PostgreSQL's server packages") from None


def citus_installed() -> tuple[bool, str]:
    """Whether the Citus extension is installed in this machine's PostgreSQL, and if not, why."""
    if shutil.which("pg_config") is None:
        return False, "pg_config not found: PostgreSQL is not installed"
    libdir = Path(_pg_config("--pkglibdir"))
    sharedir = Path(_pg_config("--sharedir"))
    if not (libdir / "citus.so").exists():
        return False, f"citus.so not found in {libdir}: the Citus extension is not installed"
    if not (sharedir / "extension" / "citus.control").exists():
        return False, f"citus.control not found in {sharedir}/extension"
    return True, f"Citus found in {libdir}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sandbox:
    """A coordinator and N workers under ``root``; state kept in ``root/sandbox.json``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.state_file = self.root / "sandbox.json"

    # --- state ---------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[SandboxNode]:
        if not self.state_file.exists():
            return []
        return [SandboxNode(**n) for n in json.loads(self.state_file.read_text())["nodes"]]

    def _save(self, nodes: list[SandboxNode]) -> None:
        self.state_file.write_text(json.dumps({"nodes": [asdict(n) for n in nodes]}, indent=2))

    @property
    def coordinator(self) -> SandboxNode:
        return next(n for n in self.nodes if n.is_coordinator)

    @property
    def workers(self) -> list[SandboxNode]:
        return [n for n in self.nodes if not n.is_coordinator]

    def params(self, node: SandboxNode | None = None, dbname: str = "postgres") -> dict[str, Any]:
        node = node or self.coordinator
        return {"host": "127.0.0.1", "port": str(node.port), "dbname": dbname, "user": "postgres", "sslmode": "disable"}

    # --- processes -----------------------------------------------------------------------------
    def _as_postgres(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]

    def _bin(self, name: str) -> str:
        return str(Path(_pg_config("--bindir")) / name)

    def datadir(self, node: SandboxNode) -> Path:
        return self.root / node.name

    def is_running(self, node: SandboxNode) -> bool:
        result = self._as_postgres([self._bin("pg_ctl"), "status", "-D", str(self.datadir(node))])
        return result.returncode == 0

    def start_node(self, node: SandboxNode) -> None:
        if self.is_running(node):
            self._allow_citus_decoding(node)
            return
        log = self.root / f"{node.name}.log"
        result = self._as_postgres(
            [self._bin("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.datadir(node)), "-l", str(log)]
        )
        if result.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise SandboxError(f"could not start {node.name} on port {node.port}: {result.stderr}{tail}")
        self._allow_citus_decoding(node)

    def _allow_citus_decoding(self, node: SandboxNode) -> None:
        """Some PostgreSQL builds (this machine's among them) refuse logical-decoding plugins not named in
        ``output_plugin_libraries``; Citus's concurrent paths (create_distributed_table_concurrently,
        splits, logical shard moves) decode with the plugin ``citus``. Add it where the setting exists."""
        with psycopg.connect(**self.params(node), autocommit=True) as conn:
            row = conn.execute("SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'").fetchone()
            if row is None:
                return
            plugins = [p.strip() for p in str(row[0]).split(",") if p.strip()]
            if "citus" in plugins:
                return
            # a list setting: one literal per library (a single literal would become one quoted name)
            values = sql.SQL(", ").join(sql.Literal(p.strip('"')) for p in [*plugins, "citus"])
            conn.execute(sql.SQL("ALTER SYSTEM SET output_plugin_libraries = {}").format(values))
            conn.execute("SELECT pg_reload_conf()")

    def stop_node(self, node: SandboxNode, mode: str = "fast") -> None:
        if self.is_running(node):
            self._as_postgres(
                [self._bin("pg_ctl"), "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.datadir(node))]
            )
        if self.is_running(node):  # a fast shutdown that did not finish: do not leave a server behind
            self._as_postgres([self._bin("pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.datadir(node))])

    def _init_node(self, node: SandboxNode) -> None:
        datadir = self.datadir(node)
        result = self._as_postgres(
            [self._bin("initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
        )
        if result.returncode != 0:
            raise SandboxError(f"initdb failed for {node.name}: {result.stderr}")
        conf = datadir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# citusadmin sandbox\n"
                f"port = {node.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "shared_preload_libraries = 'citus,pg_stat_statements'\n"
                "max_connections = 200\n"
                "wal_level = logical\n"
                "max_replication_slots = 30\n"
                "max_wal_senders = 30\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "shared_buffers = 32MB\n"
                "citus.node_conninfo = 'sslmode=prefer'\n"
                "citus.stat_statements_track = 'all'\n"
                "compute_query_id = on\n"
                "citus.stat_tenants_track = 'all'\n"
                "citus.background_task_queue_interval = 1000\n"
                "log_min_messages = warning\n"
            )

    def up(self, workers: int = 2) -> list[SandboxNode]:
        """Create (first time) and start the cluster. Safe to run again."""
        ok, reason = citus_installed()
        if not ok:
            raise SandboxError(reason)
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        nodes = self.nodes
        fresh = not nodes
        if fresh:
            nodes = [SandboxNode("coordinator", free_port())]
            nodes += [SandboxNode(f"worker{i}", free_port()) for i in range(1, workers + 1)]
            for node in nodes:
                self._init_node(node)
            self._save(nodes)
        for node in nodes:
            self.start_node(node)
        if fresh:
            self._form_cluster(nodes)
        return nodes

    def _form_cluster(self, nodes: list[SandboxNode]) -> None:
        for node in nodes:
            with psycopg.connect(**self.params(node), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        coordinator = nodes[0]
        with psycopg.connect(**self.params(coordinator), autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (coordinator.port,))
            for node in nodes[1:]:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (node.port,))

    def add_spare_node(self, name: str) -> SandboxNode:
        """Initialise and start an extra PostgreSQL+Citus instance that is NOT in the cluster (nor in
        the sandbox's state): the caller adds it to Citus and calls ``drop_spare_node`` after."""
        node = SandboxNode(name, free_port())
        self._init_node(node)
        self.start_node(node)
        with psycopg.connect(**self.params(node), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        return node

    def drop_spare_node(self, node: SandboxNode) -> None:
        self.stop_node(node, mode="immediate")
        shutil.rmtree(self.datadir(node), ignore_errors=True)

    def wait_ready(self, node: SandboxNode, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(**self.params(node), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def down(self, *, destroy: bool = False) -> None:
        for node in reversed(self.nodes):
            self.stop_node(node)
        if destroy and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> list[tuple[SandboxNode, bool]]:
        return [(node, self.is_running(node)) for node in self.nodes]
