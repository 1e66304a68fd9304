"""Many viewers, a big cluster, a hung node (on request: ``./test -m benchmark tests/benchmarks -s``).

Served as ./run serves it (gunicorn, 2 workers x 8 threads). Builds CITUSADMIN_BENCH_VIEWER_TABLES tables x CITUSADMIN_BENCH_SHARDS shards (default 1,000 x 32),
then for every page and form reports: statements each node received (``pg_stat_statements`` on the
nodes, not an in-process count), fan-out calls (statements that reached every worker), median and p95 time, response size; then the same pages with 50
concurrent viewers; then with one worker hung (a socket that accepts and never answers). Prints one
table, saves it to ``var/bench-viewers.json`` and shows the change against the previous run.
Goals from issue 13: under 300 ms median idle; with a hung worker and 50 viewers, no page over 3 s.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
import pytest

from monitoring.collector import collect

pytestmark = pytest.mark.benchmark

TABLES = int(os.environ.get("CITUSADMIN_BENCH_VIEWER_TABLES", "1000"))
SHARDS = int(os.environ.get("CITUSADMIN_BENCH_SHARDS", "32"))
VIEWERS = 50
RESULTS = Path(__file__).resolve().parents[2] / "var" / "bench-viewers.json"


def _node_calls(citus: Any) -> dict[str, int]:
    """Statements each node has run so far (pg_stat_statements, every database user)."""
    counts = {}
    for node in [citus.sandbox.coordinator, *citus.sandbox.workers]:
        with psycopg.connect(**citus.sandbox.params(node), autocommit=True) as conn:
            counts[node.name] = int(
                conn.execute("SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements").fetchone()[0]
            )
    return counts


def _get(url: str, cookie: str, data: bytes | None = None) -> tuple[float, int, int]:
    request = urllib.request.Request(url, data=data, headers={"Cookie": cookie})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        return (time.monotonic() - started) * 1000, response.status, len(body)


def _measure(pages: dict[str, str], cookie: str, citus: Any, repeat: int = 7) -> dict[str, dict[str, Any]]:
    out = {}
    for name, url in pages.items():
        _get(url, cookie)  # warm
        before = _node_calls(citus)
        times, size = [], 0
        for _ in range(repeat):
            ms, status, size = _get(url, cookie)
            assert status == 200, (name, status)
            times.append(ms)
        after = _node_calls(citus)
        per_node = {n: round((after[n] - before[n]) / repeat, 1) for n in after}
        workers = [v for n, v in per_node.items() if n != "coordinator"]
        out[name] = {
            # a fan-out reaches every worker once: the statements the least-visited worker received
            "fanouts_per_view": min(workers) if workers else 0,
            "median_ms": round(statistics.median(times)),
            "p95_ms": round(sorted(times)[max(0, int(len(times) * 0.95) - 1)]),
            "bytes": size,
            "statements_per_view": per_node,
        }
    return out


def _concurrent(pages: dict[str, str], cookie: str, viewers: int = VIEWERS) -> dict[str, dict[str, Any]]:
    out = {}
    for name, url in pages.items():
        times: list[float] = []

        def one(url: str = url, times: list[float] = times) -> None:
            times.append(_get(url, cookie)[0])

        threads = [threading.Thread(target=one) for _ in range(viewers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        out[name] = {"median_ms": round(statistics.median(times)), "max_ms": round(max(times))}
    return out


@pytest.fixture
def console_url(transactional_db: None, tmp_path: Path) -> Any:
    """The console as ./run serves it: gunicorn, CITUSADMIN_WEB_WORKERS x _WEB_THREADS (2 x 8), on the
    test database, sharing this process's var/ (secret key, shared-figure cache)."""
    import socket
    import subprocess
    import sys

    from tests.helpers import app_database_url

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "citusadmin.settings",
        "CITUSADMIN_DATABASE_URL": app_database_url(),
        "CITUSADMIN_HTTPS": "false",
        "CITUSADMIN_MONITORING_SHARE_SECONDS": "10",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "citusadmin.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("CITUSADMIN_WEB_WORKERS", "2"),
            "--threads",
            os.environ.get("CITUSADMIN_WEB_THREADS", "8"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).read()
            break
        except OSError:
            time.sleep(0.3)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()


@pytest.mark.timeout(3600)
def test_many_viewers_big_cluster_hung_node(console_url, viewer, operator, cluster_row, citus, controllable, settings):
    from django.test import Client

    from jobs.models import Job

    settings.MONITORING_SHARE_SECONDS = settings.MONITORING_REFRESH_SECONDS
    started = time.monotonic()
    with citus.connect() as conn:
        have = conn.execute(
            "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'vbench_%'"
        ).fetchone()[0]
        for i in range(have + 1, TABLES + 1):
            conn.execute(f"CREATE TABLE vbench_{i} (id bigint PRIMARY KEY, v int)")
            conn.execute(f"SELECT create_distributed_table('vbench_{i}', 'id', shard_count => {SHARDS})")
        relid = conn.execute("SELECT 'vbench_1'::regclass::oid::bigint").fetchone()[0]
        shards = conn.execute("SELECT count(*) FROM pg_dist_shard").fetchone()[0]
    print(f"\n{TABLES} tables, {shards} shards ready in {time.monotonic() - started:.0f} s")
    collect(cluster_row)
    job = Job.objects.create(cluster=cluster_row, kind="rebalance", state=Job.State.SUCCEEDED, actor_name="x")
    client = Client()
    client.force_login(viewer)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    c = f"{console_url}/c/{cluster_row.pk}"
    pages = {
        "overview": f"{c}/",
        "nodes": f"{c}/nodes/",
        "tables": f"{c}/tables/",
        "tables by shards": f"{c}/tables/?sort=shards",
        "table": f"{c}/tables/{relid}/",
        "placement map": f"{c}/placements/",
        "schemas": f"{c}/schemas/",
        "health": f"{c}/monitoring/health/",
        "queries": f"{c}/monitoring/queries/",
        "activity": f"{c}/monitoring/activity/",
        "lock waits": f"{c}/monitoring/locks/",
        "tenants": f"{c}/monitoring/tenants/",
        "history": f"{c}/monitoring/history/",
        "jobs": f"{console_url}/jobs/",
        "job": f"{console_url}/jobs/{job.pk}/",
        "job progress": f"{console_url}/jobs/{job.pk}/progress/",
    }
    planner = Client()
    planner.force_login(operator)
    preview_times = []
    for _ in range(3):  # the rebalance preview: answers within its inline limit, or says it is computing
        t = time.monotonic()
        body = planner.post(f"/c/{cluster_row.pk}/rebalance/", {"scope": "cluster", "confirm": "no"}).content.decode()
        preview_times.append((time.monotonic() - t) * 1000)
    outcome = "plan" if 'id="plan"' in body or "plans no moves" in body else "computing in the background"
    print(f"rebalance preview: median {statistics.median(preview_times):.0f} ms ({outcome})")
    if outcome != "plan":
        import re as _re

        print("  page said:", _re.sub(r"<[^>]+>", " ", body.split("<main>")[1])[:600].split())
    idle = _measure(pages, cookie, citus)
    crowd = _concurrent(pages, cookie)
    with controllable.worker_hung(1) if hasattr(controllable, "worker_hung") else _hung(controllable):
        time.sleep(1)
        hung = _concurrent(pages, cookie)
    rows = []
    header = f"{'page':18} {'median':>7} {'p95':>6} {'KB':>6} {'coord':>6} {'workers':>8} {'fan-out':>7} | {'50 viewers':>10} {'max':>6} | {'hung+50':>8} {'max':>6}"
    print(header)
    for name in pages:
        i, cr, h = idle[name], crowd[name], hung[name]
        per = i["statements_per_view"]
        workers = sum(v for k, v in per.items() if k != "coordinator")
        line = (
            f"{name:18} {i['median_ms']:>5}ms {i['p95_ms']:>4}ms {i['bytes'] / 1024:>6.0f} {per['coordinator']:>6} "
            f"{workers:>8} {i['fanouts_per_view']:>7} | {cr['median_ms']:>8}ms {cr['max_ms']:>4}ms | {h['median_ms']:>6}ms {h['max_ms']:>4}ms"
        )
        rows.append(line)
        print(line)
    result = {
        "preview_ms": round(statistics.median(preview_times)),
        "preview": outcome,
        "tables": TABLES,
        "shards": shards,
        "when": time.strftime("%Y-%m-%d"),
        "idle": idle,
        "crowd": crowd,
        "hung": hung,
    }
    if RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        print(f"\nagainst the previous run ({previous.get('when')}, {previous.get('tables')} tables):")
        for name in pages:
            if name in previous.get("idle", {}):
                was, now = previous["idle"][name]["median_ms"], idle[name]["median_ms"]
                print(f"  {name:18} median {was} -> {now} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    assert all(h["max_ms"] < 30_000 for h in hung.values())


class _hung:
    """Worker 2 replaced by a socket that accepts and never answers (as the hung_worker fixture)."""

    def __init__(self, controllable: Any) -> None:
        self.controllable = controllable

    def __enter__(self) -> None:
        from tests.helpers import HungServer

        sandbox = self.controllable.sandbox
        self.node = sandbox.workers[1]
        sandbox.stop_node(self.node, mode="immediate")
        self.server = HungServer(self.node.port)

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.controllable.sandbox.start_node(self.node)
        self.controllable.sandbox.wait_ready(self.node)
