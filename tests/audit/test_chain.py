"""The hash chain catches an edited, a deleted and an inserted entry; concurrent writers cannot fork it."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from audit.actions import record
from audit.chain import verify
from audit.models import AuditEntry


def _entries(actor, n=5):
    return [record(actor, f"test.action.{i}", "succeeded", target=f"t{i}", parameters={"i": i}) for i in range(n)]


def _raw(sql: str, params: list) -> None:
    """Tamper with the table directly, as someone with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_no_update_delete")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_auditentry_no_update_delete")


def test_an_intact_trail_verifies(db, admin, capsys):
    _entries(admin)
    assert verify().ok
    call_command("audit_verify")
    assert "intact: 5 entries" in capsys.readouterr().out


def test_an_edited_entry_is_caught(db, admin):
    entries = _entries(admin)
    _raw("UPDATE audit_auditentry SET outcome = 'succeeded', target = 'forged' WHERE id = %s", [entries[2].pk])
    result = verify()
    assert result.broken_at == entries[2].pk and "edited" in result.reason
    with pytest.raises(CommandError, match=f"broken at entry {entries[2].pk}"):
        call_command("audit_verify")


def test_a_deleted_entry_is_caught(db, admin):
    entries = _entries(admin)
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [entries[1].pk])
    result = verify()
    assert result.broken_at == entries[2].pk and "deleted or inserted" in result.reason


def test_an_inserted_entry_is_caught(db, admin):
    entries = _entries(admin)
    _raw(
        "INSERT INTO audit_auditentry (created_at, actor_name, source, request_id, cluster_name, action, target, "
        "parameters, sql, outcome, error, sqlstate, prev_hash, hash) "
        "SELECT created_at, actor_name, source, request_id, cluster_name, 'forged', target, parameters, sql, outcome, "
        "error, sqlstate, prev_hash, hash FROM audit_auditentry WHERE id = %s",
        [entries[4].pk],
    )
    result = verify()
    assert not result.ok and result.broken_at > entries[4].pk


def test_concurrent_writers_cannot_fork_the_chain(transactional_db, admin):
    def write(n: int) -> None:
        try:
            for i in range(15):
                record(admin, f"concurrent.{n}.{i}", "succeeded")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert AuditEntry.objects.filter(action__startswith="concurrent.").count() == 90
    result = verify()
    assert result.ok, result
    hashes = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(hashes) == len(set(hashes))  # no two entries claim the same predecessor
