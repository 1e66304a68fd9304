"""The audit trail's keyed hash chain.

Each entry's ``hash`` is an HMAC-SHA256, under a key kept outside the database
(``CITUSADMIN_AUDIT_KEYS``, newest first; ``key_id`` names the key that signed the entry), over every
field a forger would change and the previous entry's hash. Someone who can write the database can
edit, delete or insert rows, but cannot compute a valid HMAC: an edited, inserted or forged entry
(even one with a recomputed plain hash) breaks the chain at that point.

Deleting the newest entries leaves a valid chain behind, so after every append a signed checkpoint
of the head (id and hash) is appended to a file outside the database and logged to the logger
``citusadmin.audit.checkpoint`` (which an operator can ship to syslog). Verification compares the
trail with the newest valid checkpoint: a head older than it means the tail was removed.

Entries written before keys existed (``key_id`` empty) verify with the plain SHA-256 they were
written with, but only before the first keyed entry: an unkeyed entry after it is a forgery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.models import AuditEntry

GENESIS = "0" * 64
# Appends take this transaction-scoped advisory lock on PostgreSQL, so concurrent writers cannot fork
# the chain. SQLite serialises writers itself (BEGIN IMMEDIATE, see settings).
_LOCK_KEY = 7_357_001


def canonical(entry: AuditEntry) -> bytes:
    fields: dict[str, Any] = {
        "created_at": entry.created_at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "source": entry.source,
        "client_ip": entry.client_ip,
        "request_id": entry.request_id,
        "cluster_id": entry.cluster_id,
        "cluster_name": entry.cluster_name,
        "action": entry.action,
        "target": entry.target,
        "parameters": entry.parameters,
        "sql": entry.sql,
        "outcome": entry.outcome,
        "error": entry.error,
        "sqlstate": entry.sqlstate,
        "duration_ms": entry.duration_ms,
        "job_id": entry.job_id,
        "prev_hash": entry.prev_hash,
    }
    if entry.key_id:
        fields["key_id"] = entry.key_id
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


checkpoint_log = logging.getLogger("citusadmin.audit.checkpoint")
CHECKPOINT_ROTATE_BYTES = 10 * 1024 * 1024


def key_id(key: str) -> str:
    """A short public name of a key (a hash of it), stored with each entry it signs."""
    return hashlib.sha256(b"citusadmin-audit-key:" + key.encode()).hexdigest()[:12]


def _keys() -> dict[str, bytes]:
    return {key_id(k): k.encode() for k in settings.AUDIT_KEYS}


def current_key_id() -> str:
    return key_id(settings.AUDIT_KEYS[0])


def digest(entry: AuditEntry) -> str:
    """HMAC-SHA256 under the entry's key; plain SHA-256 only for entries written before keys existed."""
    if not entry.key_id:
        return hashlib.sha256(canonical(entry)).hexdigest()
    key = _keys().get(entry.key_id)
    if key is None:
        return ""
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


def _checkpoint_sig(key: bytes, entry_id: int, entry_hash: str, at: str) -> str:
    return hmac.new(key, f"checkpoint:{entry_id}:{entry_hash}:{at}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(entry_id: int, entry_hash: str) -> None:
    """Append a signed checkpoint of the head outside the database (after the entry committed)."""
    kid = current_key_id()
    at = timezone.now().isoformat(timespec="microseconds")
    line = {"id": entry_id, "hash": entry_hash, "at": at, "key_id": kid}
    line["sig"] = _checkpoint_sig(_keys()[kid], entry_id, entry_hash, at)
    text = json.dumps(line, separators=(",", ":"))
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    try:
        if path.exists() and path.stat().st_size > CHECKPOINT_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))  # only the newest checkpoints matter
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        checkpoint_log.exception("audit checkpoint could not be written to %s", path)
    checkpoint_log.info("audit head %s", text)


@dataclass(frozen=True)
class Checkpoint:
    id: int
    hash: str
    at: str


def read_checkpoints() -> tuple[Checkpoint | None, int]:
    """The newest validly signed checkpoint, and how many lines failed their signature."""
    keys = _keys()
    newest: Checkpoint | None = None
    invalid = 0
    path = Path(settings.AUDIT_CHECKPOINT_FILE)
    for candidate in (path.with_name(path.name + ".1"), path):
        try:
            lines = candidate.read_text().splitlines()
        except OSError:
            continue
        for raw in lines:
            try:
                data = json.loads(raw)
                key = keys[data["key_id"]]
                entry_id, entry_hash, at = int(data["id"]), str(data["hash"]), str(data["at"])
                valid = hmac.compare_digest(_checkpoint_sig(key, entry_id, entry_hash, at), str(data["sig"]))
            except (ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                invalid += 1
                continue
            if newest is None or entry_id > newest.id:
                newest = Checkpoint(entry_id, entry_hash, at)
    return newest, invalid


def lock_for_append() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def last_hash() -> str:
    value = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first()
    return value or GENESIS


@dataclass(frozen=True)
class Verification:
    checked: int
    broken_at: int | None  # id of the first entry where the chain breaks
    reason: str
    checkpoint: Checkpoint | None = None
    invalid_checkpoints: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _rows() -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("id").iterator(chunk_size=5000)


def verify() -> Verification:
    """Walk the whole trail in id order (streamed, constant memory), then hold its head against the
    newest signed checkpoint kept outside the database."""
    checkpoint, invalid = read_checkpoints()
    keys = _keys()
    previous = GENESIS
    checked = 0
    keyed_seen = False
    last_id = 0

    def broken(entry_id: int, reason: str) -> Verification:
        return Verification(checked, entry_id, reason, checkpoint, invalid)

    for entry in _rows():
        if entry.prev_hash != previous:
            return broken(
                entry.pk, "its link to the previous entry does not match: an entry before it was deleted or inserted"
            )
        if entry.key_id:
            keyed_seen = True
            if entry.key_id not in keys:
                return broken(
                    entry.pk,
                    f"it is signed with key {entry.key_id}, which is not among CITUSADMIN_AUDIT_KEYS: "
                    "a key was removed, or the entry was forged",
                )
        elif keyed_seen:
            return broken(entry.pk, "it carries no signature although earlier entries do: it was forged")
        if not hmac.compare_digest(digest(entry), entry.hash):
            return broken(entry.pk, "its content does not match its signature: it was edited or forged")
        if checkpoint is not None and entry.pk == checkpoint.id and entry.hash != checkpoint.hash:
            return broken(entry.pk, f"it differs from the signed checkpoint written at {checkpoint.at}")
        previous = entry.hash
        checked += 1
        last_id = entry.pk
    if checkpoint is not None and checkpoint.id > last_id:
        return Verification(
            checked,
            last_id + 1 if last_id else checkpoint.id,
            f"entries up to id {checkpoint.id} existed (signed checkpoint written at {checkpoint.at}) but the trail "
            f"ends at id {last_id or 'nothing'}: the newest entries were deleted",
            checkpoint,
            invalid,
        )
    return Verification(checked, None, "", checkpoint, invalid)
