"""Registering clusters, testing connections, creating the extension: against the real cluster."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from audit.models import AuditEntry
from citusadmin.citus.sandbox import free_port
from clusters.models import Cluster, ClusterProbe

SECRET = "s3cret-Pa55word-never-shown"


def _register(client, **fields):
    data = {
        "name": "prod-eu",
        "host": "127.0.0.1",
        "port": "5432",
        "dbname": "postgres",
        "user": "postgres",
        "sslmode": "prefer",
        **fields,
    }
    return client.post("/clusters/add/", data)


def test_it_registers_a_cluster_and_never_shows_or_stores_the_password(client, admin, db):
    client.force_login(admin)
    response = _register(client, password=SECRET)
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="prod-eu")
    assert cluster.has_password and SECRET not in cluster.password_encrypted
    assert cluster.target().kwargs()["password"] == SECRET
    assert SECRET not in repr(cluster.target())
    for url in (f"/clusters/{cluster.pk}/edit/", "/clusters/"):
        assert SECRET.encode() not in client.get(url).content
    entry = AuditEntry.objects.get(action="clusters.register")
    assert entry.outcome == "succeeded" and SECRET not in str(entry.parameters)
    assert entry.parameters["password_stored"] is True


def test_it_keeps_the_stored_password_when_the_form_leaves_it_empty(client, admin, db):
    client.force_login(admin)
    _register(client, password=SECRET)
    cluster = Cluster.objects.get(name="prod-eu")
    response = client.post(
        f"/clusters/{cluster.pk}/edit/",
        {"name": "prod-eu", "host": "10.0.0.5", "port": "6432", "dbname": "app", "sslmode": "require"},
    )
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.host == "10.0.0.5" and cluster.target().kwargs()["password"] == SECRET


def test_it_rejects_bad_input_before_any_sql(client, admin, db):
    client.force_login(admin)
    response = client.post(
        "/clusters/add/",
        {
            "name": "bad name!",
            "host": "",
            "port": "70000",
            "dbname": "x",
            "sslmode": "require",
            "sslrootcert": "/no/such/ca.crt",
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Give a host, or a libpq service name." in body
    assert "No readable file at /no/such/ca.crt" in body
    assert "less than or equal to 65535" in body
    assert not Cluster.objects.exists()


def test_an_operator_cannot_register_a_cluster(client, operator, db):
    client.force_login(operator)
    assert client.get("/clusters/add/").status_code == 403
    assert _register(client).status_code == 403
    assert AuditEntry.objects.get(outcome="denied").action == "clusters.manage_cluster"


def test_it_tests_the_connection_and_shows_version_and_workers(client, operator, cluster_row):
    client.force_login(operator)
    response = client.post(f"/clusters/{cluster_row.pk}/test/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert "Connected" in body and "Citus 1" in body
    assert "2 worker(s)" in body
    assert "<html" not in body  # an htmx fragment, not a page
    probe = ClusterProbe.objects.get(cluster=cluster_row)
    assert probe.ok and probe.worker_count == 2
    assert AuditEntry.objects.get(action="clusters.test_connection").outcome == "succeeded"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"port": "free"}, "Connection refused"),
        ({"user": "nobody_here"}, "Authentication failed"),
        ({"dbname": "postgres", "port": "5432"}, "citus extension is not created"),
    ],
)
def test_it_tells_exactly_why_a_connection_test_failed(client, operator, citus, db, fields, expected):
    if fields.get("port") == "5432":
        # the machine's own PostgreSQL: reachable, but Citus is not created there
        try:
            psycopg.connect(host="127.0.0.1", port=5432, dbname="postgres", user="postgres", connect_timeout=2).close()
        except psycopg.OperationalError:
            pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    port = free_port() if fields.get("port") == "free" else int(fields.get("port", citus.params["port"]))
    cluster = Cluster.objects.create(
        name="t",
        host="127.0.0.1",
        port=port,
        dbname=fields.get("dbname", "postgres"),
        user=fields.get("user", "postgres"),
        sslmode="disable",
    )
    client.force_login(operator)
    response = client.post(f"/clusters/{cluster.pk}/test/")
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert AuditEntry.objects.get(action="clusters.test_connection").outcome == "failed"
    assert ClusterProbe.objects.get(cluster=cluster).ok is False


def test_it_refuses_a_worker_as_coordinator(client, operator, citus, db):
    worker = citus.workers[0] if citus.workers else pytest.skip("needs the sandbox's worker addresses")
    cluster = Cluster.objects.create(name="w", host="127.0.0.1", port=worker.port, user="postgres", sslmode="disable")
    client.force_login(operator)
    response = client.post(f"/clusters/{cluster.pk}/test/")
    assert "not the coordinator" in response.content.decode()


def test_it_creates_the_extension_idempotently(client, admin, citus, db):
    dbname = f"fresh_{uuid.uuid4().hex[:8]}"
    with citus.connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        cluster = Cluster.objects.create(
            name="fresh",
            host=citus.params["host"],
            port=int(citus.params["port"]),
            dbname=dbname,
            user="postgres",
            sslmode="disable",
        )
        client.force_login(admin)
        page = client.get(f"/clusters/{cluster.pk}/").content.decode()
        assert "not created" in page and "Create the citus extension" in page
        response = client.post(f"/clusters/{cluster.pk}/extension/", follow=True)
        assert "The citus extension was created." in response.content.decode()
        response = client.post(f"/clusters/{cluster.pk}/extension/", follow=True)
        assert "already existed; nothing changed" in response.content.decode()
        entries = AuditEntry.objects.filter(action="clusters.create_extension").order_by("id")
        assert [e.outcome for e in entries] == ["succeeded", "succeeded"]
        assert "CREATE EXTENSION IF NOT EXISTS citus" in entries[0].sql
    finally:
        from citusadmin.citus.connection import close_pools

        close_pools()
        with citus.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))


def test_it_explains_why_the_extension_cannot_be_created_without_preloading(client, admin, db):
    try:
        psycopg.connect(host="127.0.0.1", port=5432, dbname="postgres", user="postgres", connect_timeout=2).close()
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    cluster = Cluster.objects.create(name="plain", host="127.0.0.1", port=5432, user="postgres", sslmode="disable")
    client.force_login(admin)
    response = client.post(f"/clusters/{cluster.pk}/extension/", follow=True)
    body = response.content.decode()
    if "not installed on the server" in body:
        assert "Install the Citus package" in body
    else:
        assert "shared_preload_libraries" in body
    assert AuditEntry.objects.get(action="clusters.create_extension").outcome == "failed"


def test_names_from_the_database_are_escaped(client, admin, db):
    Cluster.objects.create(name="x", description="<script>alert(1)</script>", host="127.0.0.1", port=1)
    client.force_login(admin)
    body = client.get("/clusters/").content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_it_sends_a_strict_content_security_policy(client, viewer):
    client.force_login(viewer)
    response = client.get("/clusters/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_it_reports_an_ssl_failure(client, operator, citus, db):
    if citus.sandbox is None:
        pytest.skip("needs the sandbox, whose nodes run without SSL")
    cluster = Cluster.objects.create(
        name="tls", host="127.0.0.1", port=int(citus.params["port"]), user="postgres", sslmode="require"
    )
    client.force_login(operator)
    body = client.post(f"/clusters/{cluster.pk}/test/").content.decode()
    assert "SSL/TLS negotiation failed" in body
    assert "server does not support SSL" in body
    assert ClusterProbe.objects.get(cluster=cluster).error_kind == "ssl"


def test_the_sandbox_can_be_turned_off_for_production(settings, capsys, db):
    from django.core.management import call_command

    settings.SANDBOX_ENABLED = False
    call_command("citus_sandbox", "up", "--if-available")
    assert "CITUSADMIN_SANDBOX is off" in capsys.readouterr().out
