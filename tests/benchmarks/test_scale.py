"""Scale benchmark (not part of the default run): ``./test -m benchmark tests/benchmarks -s``.

Builds CITUSADMIN_BENCH_TABLES distributed tables of CITUSADMIN_BENCH_SHARDS shards each (default
5,000 tables of 32 = 160,000 shards) in the sandbox cluster, then measures each page's coordinator
statements, app-database queries and wall time, and the collector's duration. Numbers, not asserts
on time: the assertions are the fixed query counts.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.collector import collect

pytestmark = pytest.mark.benchmark

TABLES = int(os.environ.get("CITUSADMIN_BENCH_TABLES", "5000"))
SHARDS = int(os.environ.get("CITUSADMIN_BENCH_SHARDS", "32"))


@pytest.mark.timeout(1800)  # building 160,000 shards takes minutes
def test_pages_stay_flat_at_scale(client, viewer, cluster_row, citus, coordinator_queries):
    started = time.monotonic()
    with citus.connect() as conn:
        for i in range(1, TABLES + 1):  # one transaction each: Citus locks every shard it creates
            conn.execute(f"CREATE TABLE bench_{i} (id bigint PRIMARY KEY, v int)")
            conn.execute(f"SELECT create_distributed_table('bench_{i}', 'id', shard_count => {SHARDS})")
        relid = conn.execute("SELECT 'bench_1'::regclass::oid::bigint").fetchone()[0]
        shards = conn.execute("SELECT count(*) FROM pg_dist_shard").fetchone()[0]
    print(f"\nbuilt {TABLES} tables, {shards} shards in {time.monotonic() - started:.0f} s")
    t = time.monotonic()
    collection = collect(cluster_row)
    print(f"collector: {time.monotonic() - t:.1f} s (ok={collection.ok}) {collection.sizes_error}")
    with citus.connect() as conn:  # a workload for the Queries tab: 200 statements on 200 tables
        for i in range(1, min(TABLES, 200) + 1):
            conn.execute(f"SELECT count(*) FROM bench_{i}")
            conn.execute(f"SELECT v FROM bench_{i} WHERE id = 1")
    collect(cluster_row)
    client.force_login(viewer)
    for url in (
        f"/c/{cluster_row.pk}/",
        f"/c/{cluster_row.pk}/nodes/",
        f"/c/{cluster_row.pk}/tables/",
        f"/c/{cluster_row.pk}/tables/?sort=shards",
        f"/c/{cluster_row.pk}/tables/{relid}/",
        f"/c/{cluster_row.pk}/placements/",
        f"/c/{cluster_row.pk}/monitoring/health/",
        f"/c/{cluster_row.pk}/monitoring/queries/",
        f"/c/{cluster_row.pk}/monitoring/activity/",
        f"/c/{cluster_row.pk}/monitoring/locks/",
        f"/c/{cluster_row.pk}/monitoring/tenants/",
        f"/c/{cluster_row.pk}/monitoring/history/?hours=720",
    ):
        client.get(url)
        before = coordinator_queries.count
        t = time.monotonic()
        with CaptureQueriesContext(connection) as app:
            response = client.get(url)
        elapsed = (time.monotonic() - t) * 1000
        statements = coordinator_queries.count - before
        print(f"{url:40} {response.status_code} coordinator={statements} app={len(app)} {elapsed:.0f} ms")
        assert response.status_code == 200 and statements <= (5 if "/monitoring/" in url else 3)
