"""The append-only audit trail and its minimal list page."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.actions import record
from audit.models import AppendOnlyError, AuditEntry


def test_entries_cannot_be_changed_or_deleted_through_the_app(db, admin):
    entry = record(admin, "clusters.update", "succeeded", target="x")
    entry.target = "y"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(target="y")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).target == "x"


def test_postgresql_refuses_update_and_delete(db, admin):
    if connection.vendor != "postgresql":
        pytest.skip("the database-level guard is PostgreSQL's (CITUSADMIN_DATABASE_URL)")
    entry = record(admin, "clusters.update", "succeeded")
    for statement in (
        "UPDATE audit_auditentry SET target = 'forged' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])


def test_auditors_and_admins_read_it_viewers_do_not(client, auditor, admin, viewer):
    record(admin, "clusters.register", "succeeded", target="<b>prod</b>")
    client.force_login(auditor)
    body = client.get("/audit/").content.decode()
    assert "clusters.register" in body and "&lt;b&gt;prod&lt;/b&gt;" in body
    client.force_login(admin)
    assert client.get("/audit/").status_code == 200
    client.force_login(viewer)
    assert client.get("/audit/").status_code == 403


def test_the_list_pages_by_key_with_a_fixed_query_count(client, auditor, django_assert_max_num_queries):
    AuditEntry.objects.bulk_create(
        [AuditEntry(action=f"bulk.{i}", outcome="succeeded", source="system") for i in range(130)]
    )
    client.force_login(auditor)
    with django_assert_max_num_queries(8):
        first = client.get("/audit/")
    newest = AuditEntry.objects.order_by("-id").first()
    assert f"bulk.{129}" in first.content.decode() and first.context["next_before"] is not None
    with django_assert_max_num_queries(8):
        second = client.get(f"/audit/?before={first.context['next_before']}")
    assert newest.action not in second.content.decode()


def test_the_list_filters_the_entries_of_one_job(client, auditor, admin):
    record(admin, "jobs.rebalance.start", "succeeded", job_id=41)
    record(admin, "jobs.rebalance.start", "succeeded", job_id=42)
    client.force_login(auditor)
    body = client.get("/audit/?job=42").content.decode()
    assert "/jobs/42/" in body and "/jobs/41/" not in body


def test_an_action_waiting_on_the_cluster_does_not_block_other_writers(transactional_db, admin, citus, cluster_row):
    """A slow Citus statement must not hold the console's own database (SQLite locks it at BEGIN)."""
    import threading
    import time as clock

    from django.db import connections
    from psycopg import sql

    from tables.actions import _run

    done = threading.Event()

    def slow() -> None:
        try:
            _run(
                admin,
                cluster_row,
                "tables.undistribute_schema",
                "tables.grant_privileges",
                "x",
                sql.SQL("SELECT pg_sleep(3)"),
                {},
            )
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    clock.sleep(0.5)
    started = clock.monotonic()
    record(admin, "clusters.update", "succeeded")  # another request writing meanwhile
    assert clock.monotonic() - started < 1.5
    thread.join()
    assert AuditEntry.objects.get(action="tables.undistribute_schema").outcome == "succeeded"
