"""Writing the audit trail, and the ``audited`` wrapper every state change runs inside.

An action (``do_*``) checks its permission, runs the change, and records the outcome in one place:

    with audited(actor, Action.ADD_NODE, perm=Perm.ADD_NODE, cluster=cluster, target=addr) as entry:
        entry.parameters["groupid"] = groupid
        node_id = citus.nodes.add_node(...)

Denied: an entry marked denied is written and PermissionDenied raised. Failed: the body's own app
database changes are rolled back, then an entry marked failed (with the error, SQLSTATE and the SQL
sent) is written and the error re-raised. Succeeded: the entry is written in the same transaction as
the body's changes.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit import chain, names
from audit.models import AuditEntry
from citusadmin import request_context
from citusadmin.citus.connection import capture_sql
from citusadmin.citus.errors import CitusError
from citusadmin.perms import Perm

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    from clusters.models import Cluster


@dataclass
class PendingEntry:
    """What the body of ``audited`` may add to its entry."""

    action: str
    target: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None
    sql: list[str] = field(default_factory=list)
    result: str = ""
    # Set by a body that handled an error itself but wants its own app-database writes kept
    # (for example the stored probe result of a failed connection test).
    failure: CitusError | None = None


def record(
    actor: AbstractUser | AnonymousUser | None,
    action: str,
    outcome: str,
    *,
    cluster: Cluster | None = None,
    target: str = "",
    parameters: dict[str, Any] | None = None,
    sql: str = "",
    error: str = "",
    sqlstate: str = "",
    duration_ms: int | None = None,
    job_id: int | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    if not names.known(action):  # a programming error: every name is declared in audit.names
        raise ValueError(f"undeclared audit action {action!r}: declare it in audit.names")
    ctx = request_context.current()
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    entry = AuditEntry(
        created_at=timezone.now(),
        actor_id=getattr(user, "pk", None),
        actor_name=actor_name if actor_name is not None else (user.get_username() if user else ""),
        source=ctx.source,
        client_ip=ctx.client_ip,
        request_id=ctx.request_id,
        cluster_id=getattr(cluster, "pk", None),
        cluster_name=getattr(cluster, "name", ""),
        action=str(action),
        target=target[:300],
        # stored as JSON: normalise now, so the hash is computed over what will be read back
        parameters=json.loads(
            json.dumps({**(parameters or {}), **({"api_token": ctx.api_token} if ctx.api_token else {})}, default=str)
        ),
        sql=sql,
        outcome=outcome,
        error=error,
        sqlstate=sqlstate or "",
        duration_ms=duration_ms,
        job_id=job_id,
    )
    with transaction.atomic():  # one append at a time: the chain cannot fork
        chain.lock_for_append()
        entry.prev_hash = chain.last_hash()
        entry.key_id = chain.current_key_id()
        entry.hash = chain.digest(entry)
        entry.save()
        pk, digest = entry.pk, entry.hash
        transaction.on_commit(lambda: chain.write_checkpoint(pk, digest))
    return entry


def record_denied(
    actor: AbstractUser | AnonymousUser, action: str, *, cluster: Cluster | None = None, target: str = ""
) -> None:
    record(
        actor, action, AuditEntry.Outcome.DENIED, cluster=cluster, target=target, error=f"missing permission {action}"
    )


def ensure_permission(
    actor: AbstractUser | AnonymousUser,
    perm: Perm,
    *,
    action: str | None = None,
    cluster: Cluster | None = None,
    target: str = "",
) -> None:
    """Raise PermissionDenied, after writing a denied entry, unless ``actor`` holds ``perm``."""
    if not actor.has_perm(perm):
        record(
            actor,
            action or perm,
            AuditEntry.Outcome.DENIED,
            cluster=cluster,
            target=target,
            error=f"missing permission {perm}",
        )
        raise PermissionDenied(f"You do not have the permission {perm}.")


@contextmanager
def audited(
    actor: AbstractUser | AnonymousUser,
    action: str,
    *,
    perm: Perm,
    cluster: Cluster | None = None,
    target: str = "",
    parameters: dict[str, Any] | None = None,
    atomic: bool = True,
) -> Iterator[PendingEntry]:
    """``atomic=False`` for bodies that wait on a cluster (or the broker) and write nothing to the app
    database themselves: holding an app-database transaction open across a Citus call would block
    every other writer for its whole length (SQLite takes its write lock at BEGIN)."""
    ensure_permission(actor, perm, action=action, cluster=cluster, target=target)
    pending = PendingEntry(action=action, target=target, parameters=dict(parameters or {}))
    started = time.monotonic()
    try:
        with capture_sql() as sent, transaction.atomic() if atomic else contextlib.nullcontext():
            pending.sql = sent
            yield pending
            failure = pending.failure
            record(
                actor,
                action,
                AuditEntry.Outcome.FAILED if failure else AuditEntry.Outcome.SUCCEEDED,
                cluster=cluster,
                target=pending.target,
                parameters=_with_result(pending),
                sql=";\n".join(sent),
                job_id=pending.job_id,
                error=failure.as_text() if failure else "",
                sqlstate=(failure.sqlstate or "") if failure else "",
                duration_ms=int((time.monotonic() - started) * 1000),
            )
    except Exception as exc:
        error_text, sqlstate = _describe(exc)
        record(
            actor,
            action,
            AuditEntry.Outcome.FAILED,
            cluster=cluster,
            target=pending.target,
            parameters=_with_result(pending),
            sql=";\n".join(pending.sql),
            error=error_text,
            sqlstate=sqlstate,
            duration_ms=int((time.monotonic() - started) * 1000),
            job_id=pending.job_id,
        )
        raise


def _with_result(pending: PendingEntry) -> dict[str, Any]:
    if not pending.result:
        return pending.parameters
    return {**pending.parameters, "result": pending.result}


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, CitusError) or hasattr(exc, "as_text"):
        return exc.as_text(), getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, PermissionDenied):
        return str(exc) or "permission denied", ""
    return f"{type(exc).__name__}: {exc}", ""
