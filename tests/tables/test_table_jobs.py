"""Table changes that run as jobs, through the pages, with a real worker."""

from __future__ import annotations

import html

import pytest

from jobs.models import Job
from tests.helpers import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def events(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE t_events (id bigint PRIMARY KEY, payload text)")
        conn.execute("SELECT create_distributed_table('t_events', 'id', shard_count => 4)")
        conn.execute("INSERT INTO t_events SELECT g, 'x' FROM generate_series(1, 3000) g")
        relid = conn.execute("SELECT 't_events'::regclass::oid::bigint").fetchone()[0]
    yield relid
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS t_events")


def _job_from(response) -> Job:
    assert response.status_code == 302, response.content.decode()[-1500:]
    return Job.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_change_the_shard_count_through_the_page(client, admin, cluster_row, events, job_worker, citus):
    client.force_login(admin)
    url = f"/c/{cluster_row.pk}/tables/{events}/alter/"
    preview = client.post(url, {"shard_count": "6", "confirm": "no"}).content.decode()
    assert "alter_distributed_table" in preview
    job = _job_from(client.post(url, {"shard_count": "6", "confirm": "yes"}))
    wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, 120, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    with citus.connect() as conn:
        assert (
            conn.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 't_events'::regclass").fetchone()[0]
            == 6
        )
        assert conn.execute("SELECT count(*) FROM t_events").fetchone()[0] == 3000


def test_vacuum_analyze_through_the_page(client, operator, cluster_row, events, job_worker, citus):
    client.force_login(operator)
    job = _job_from(client.post(f"/c/{cluster_row.pk}/tables/{events}/vacuum-analyze/", {"confirm": "yes"}))
    wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, 60, message=job_worker.logs())
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert 'VACUUM ANALYZE "public"."t_events"' in job.log.first().message
    with citus.connect() as conn:
        analyzed = conn.execute(
            "SELECT result FROM run_command_on_shards('t_events', "
            "$$SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relid = '%s'::regclass$$)"
        ).fetchall()
    assert analyzed and all(r[0] == "t" for r in analyzed)


@pytest.fixture
def plain(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE t_plain_job (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO t_plain_job SELECT g, 'x' FROM generate_series(1, 2000) g")
        relid = conn.execute("SELECT 't_plain_job'::regclass::oid::bigint").fetchone()[0]
    yield relid
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS t_plain_job")


def test_distributing_on_request_runs_as_a_job(client, admin, cluster_row, plain, job_worker, citus):
    client.force_login(admin)
    url = f"/c/{cluster_row.pk}/tables/{plain}/distribute/"
    form = {"column": "id", "shard_count": "4", "colocate_with": "default", "as_job": "on"}
    preview = client.post(url, form).content.decode()
    assert "create_distributed_table_concurrently" in preview and "Runs as a job." in preview
    job = _job_from(client.post(url, {**form, "confirm": "yes"}))
    assert job.kind == "distribute_concurrently" and job.parameters["concurrently"] is True
    wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, 120, message=job_worker.logs())
    job.refresh_from_db()
    with citus.connect() as conn:
        plugins = (
            conn.execute("SHOW output_plugin_libraries").fetchone()[0]
            if conn.execute("SELECT 1 FROM pg_settings WHERE name = 'output_plugin_libraries'").fetchone()
            else ""
        )
        rows = conn.execute("SELECT count(*) FROM t_plain_job").fetchone()[0]
    if plugins and "citus" not in plugins:
        # This PostgreSQL build restricts logical decoding plugins (citus-api.md §4.4): Citus refuses,
        # and the job shows Citus's own words.
        assert job.state == "failed" and "may not be used as an output plugin" in job.error
    else:
        assert job.state == "succeeded", job.error
    assert rows == 2000


def _plugins(citus, plugins: list[str] | None) -> None:
    """Set output_plugin_libraries on every node of the test cluster; None: back to the sandbox's own
    (the machine's list plus citus)."""
    import psycopg
    from psycopg import sql

    for node in [citus.sandbox.coordinator, *citus.sandbox.workers]:
        if plugins is None:
            citus.sandbox._allow_citus_decoding(node)
            continue
        with psycopg.connect(**citus.sandbox.params(node), autocommit=True) as conn:
            values = sql.SQL(", ").join(sql.Literal(p) for p in plugins)
            conn.execute(sql.SQL("ALTER SYSTEM SET output_plugin_libraries = {}").format(values))
            conn.execute("SELECT pg_reload_conf()")


def _kind(citus, relid: int) -> str:
    with citus.connect() as conn:
        row = conn.execute(
            "SELECT CASE WHEN p.logicalrelid IS NULL THEN 'local' WHEN p.partmethod = 'n' THEN 'citus_local' "
            "ELSE 'distributed' END FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid "
            "WHERE c.relname = 't_plain_job'"
        ).fetchone()
    return row[0]


def test_a_failed_concurrent_distribution_says_it_left_a_citus_local_table_and_offers_the_undo(
    client, admin, cluster_row, plain, job_worker, controllable
):
    citus = controllable
    with citus.connect() as conn:
        allowed = conn.execute("SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'").fetchone()
    if allowed is None:
        pytest.skip("this PostgreSQL build has no output_plugin_libraries to make the concurrent path fail with")
    # Citus's decoder refused (as on a build that restricts plugins): the copy fails after the conversion
    _plugins(citus, [p.strip() for p in allowed[0].split(",") if p.strip() not in ("citus", "")])
    try:
        client.force_login(admin)
        url = f"/c/{cluster_row.pk}/tables/{plain}/distribute/"
        form = {"column": "id", "shard_count": "4", "colocate_with": "default", "as_job": "on", "confirm": "yes"}
        job = _job_from(client.post(url, form))
        wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, 120, message=job_worker.logs())
        job.refresh_from_db()
    finally:
        _plugins(citus, None)
    assert job.state == "failed"
    assert _kind(citus, plain) == "citus_local"
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Citus left public.t_plain_job as a Citus local table" in html.unescape(page)
    new_relid = job.parameters["left_citus_local_relid"]
    undo = f"/c/{cluster_row.pk}/tables/{new_relid}/undistribute/"
    assert undo in page
    preview = client.post(undo, {}).content.decode()
    assert "undistribute_table" in preview
    client.post(undo, {"confirm": "yes"})
    assert _kind(citus, plain) == "local"
    with citus.connect() as conn:
        assert conn.execute("SELECT count(*) FROM t_plain_job").fetchone()[0] == 2000
