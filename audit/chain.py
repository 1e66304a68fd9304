"""The audit trail's hash chain: each entry's hash covers every field a forger would change, and the
previous entry's hash, so an edited, deleted or inserted entry breaks the chain at that point."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection

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
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def digest(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


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

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _rows() -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("id").iterator(chunk_size=5000)


def verify() -> Verification:
    """Walk the whole trail in id order (streamed, constant memory)."""
    previous = GENESIS
    checked = 0
    for entry in _rows():
        if entry.prev_hash != previous:
            return Verification(
                checked,
                entry.pk,
                "its link to the previous entry does not match: an entry before it was deleted or inserted",
            )
        if digest(entry) != entry.hash:
            return Verification(checked, entry.pk, "its content does not match its hash: it was edited")
        previous = entry.hash
        checked += 1
    return Verification(checked, None, "")
