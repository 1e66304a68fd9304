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
    return [record(actor, "clusters.update", "succeeded", target=f"t{i}", parameters={"i": i}) for i in range(n)]


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
        "parameters, sql, outcome, error, sqlstate, prev_hash, hash, key_id) "
        "SELECT created_at, actor_name, source, request_id, cluster_name, 'forged', target, parameters, sql, outcome, "
        "error, sqlstate, prev_hash, hash, key_id FROM audit_auditentry WHERE id = %s",
        [entries[4].pk],
    )
    result = verify()
    assert not result.ok and result.broken_at > entries[4].pk


def test_concurrent_writers_cannot_fork_the_chain(transactional_db, admin):
    def write(n: int) -> None:
        try:
            for i in range(15):
                record(admin, "clusters.update", "succeeded", target=f"concurrent.{n}.{i}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert AuditEntry.objects.filter(target__startswith="concurrent.").count() == 90
    result = verify()
    assert result.ok, result
    hashes = list(AuditEntry.objects.values_list("prev_hash", flat=True))
    assert len(hashes) == len(set(hashes))  # no two entries claim the same predecessor


def _keyed_entries(actor, capture, n=5):
    with capture(execute=True):  # checkpoints are written after commit
        return _entries(actor, n)


def test_a_forged_entry_with_a_recomputed_plain_hash_is_caught(db, admin, django_capture_on_commit_callbacks):
    """Someone with database access edits an entry and recomputes its hash the only way they can: without the key."""
    import hashlib

    from audit import chain

    entries = _keyed_entries(admin, django_capture_on_commit_callbacks)
    forged = AuditEntry.objects.get(pk=entries[2].pk)
    forged.target = "innocent"
    plain = hashlib.sha256(chain.canonical(forged)).hexdigest()
    _raw("UPDATE audit_auditentry SET target = 'innocent', hash = %s WHERE id = %s", [plain, forged.pk])
    # and re-link the next entry to the forged hash, as a careful forger would
    _raw("UPDATE audit_auditentry SET prev_hash = %s WHERE id = %s", [plain, entries[3].pk])
    result = verify()
    assert result.broken_at == forged.pk and "edited or forged" in result.reason
    # dropping the key id to pass as an entry from before keys existed does not help either
    _raw("UPDATE audit_auditentry SET key_id = '' WHERE id = %s", [forged.pk])
    result = verify()
    assert result.broken_at == forged.pk and "no signature although earlier entries do" in result.reason


def test_deleting_the_newest_entries_is_caught_by_the_signed_checkpoint(
    db, admin, django_capture_on_commit_callbacks, settings
):
    entries = _keyed_entries(admin, django_capture_on_commit_callbacks)
    assert verify().ok and verify().checkpoint.id == entries[-1].pk
    assert settings.AUDIT_CHECKPOINT_FILE.stat().st_mode & 0o077 == 0
    _raw("DELETE FROM audit_auditentry WHERE id >= %s", [entries[3].pk])
    result = verify()
    assert not result.ok
    assert (
        f"entries up to id {entries[-1].pk} existed" in result.reason and "newest entries were deleted" in result.reason
    )
    with pytest.raises(CommandError, match="newest entries were deleted"):
        call_command("audit_verify")


def test_a_deleted_middle_entry_is_caught_with_keys(db, admin, django_capture_on_commit_callbacks):
    entries = _keyed_entries(admin, django_capture_on_commit_callbacks)
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [entries[2].pk])
    result = verify()
    assert result.broken_at == entries[3].pk and "deleted or inserted" in result.reason


def test_an_edited_checkpoint_file_is_reported_and_ignored(db, admin, django_capture_on_commit_callbacks, settings):
    entries = _keyed_entries(admin, django_capture_on_commit_callbacks)
    lines = settings.AUDIT_CHECKPOINT_FILE.read_text().splitlines()
    settings.AUDIT_CHECKPOINT_FILE.write_text(
        "\n".join([*lines, lines[-1].replace(f'"id":{entries[-1].pk}', '"id":99999')]) + "\n"
    )
    result = verify()
    assert result.ok and result.invalid_checkpoints == 1 and result.checkpoint.id == entries[-1].pk


def test_keys_rotate_and_old_entries_still_verify(db, admin, settings, django_capture_on_commit_callbacks):
    old_key = settings.AUDIT_KEYS[0]
    first = _keyed_entries(admin, django_capture_on_commit_callbacks, 2)
    settings.AUDIT_KEYS = ["a-new-key-for-this-test-0123456789", old_key]
    second = _keyed_entries(admin, django_capture_on_commit_callbacks, 2)
    assert first[0].key_id != second[0].key_id
    assert verify().ok and verify().checked == 4
    settings.AUDIT_KEYS = ["a-new-key-for-this-test-0123456789"]  # the old key removed: its entries cannot be checked
    result = verify()
    assert result.broken_at == first[0].pk and "not among CITUSADMIN_AUDIT_KEYS" in result.reason
