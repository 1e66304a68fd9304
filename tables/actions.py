"""Table changes. Short ones run here, audited; long ones become jobs."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from audit.actions import audited
from audit.names import Action
from citusadmin.citus.connection import session
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster


def _run(
    actor: Actor,
    cluster: Cluster,
    action: str,
    perm: Perm,
    target: str,
    statement: sql.Composed,
    parameters: dict[str, Any],
    *,
    timeout_ms: int = 120_000,
) -> list[str]:
    """Send one statement under the action's audit entry; returns Citus's notices (shown to the user)."""
    with (
        audited(actor, action, perm=perm, cluster=cluster, target=target, parameters=parameters, atomic=False) as entry,
        session(cluster.target()) as sess,
        sess.statement_timeout(timeout_ms),
    ):
        sess.execute(statement)
        notices = list(sess.notices)
        entry.result = "; ".join(notices)[:1000]
    return notices


def do_distribute(
    actor: Actor, cluster: Cluster, qualified: str, statement: sql.Composed, parameters: dict[str, Any]
) -> list[str]:
    return _run(actor, cluster, Action.DISTRIBUTE_TABLE, Perm.DISTRIBUTE_TABLE, qualified, statement, parameters)


def do_make_reference(actor: Actor, cluster: Cluster, qualified: str, statement: sql.Composed) -> list[str]:
    return _run(actor, cluster, Action.MAKE_REFERENCE_TABLE, Perm.MAKE_REFERENCE_TABLE, qualified, statement, {})


def do_undistribute(
    actor: Actor, cluster: Cluster, qualified: str, statement: sql.Composed, cascade: bool
) -> list[str]:
    return _run(
        actor,
        cluster,
        Action.UNDISTRIBUTE_TABLE,
        Perm.UNDISTRIBUTE_TABLE,
        qualified,
        statement,
        {"cascade_via_foreign_keys": cascade},
    )


def do_add_to_metadata(
    actor: Actor, cluster: Cluster, qualified: str, statement: sql.Composed, cascade: bool
) -> list[str]:
    return _run(
        actor,
        cluster,
        Action.ADD_TABLE_TO_METADATA,
        Perm.ADD_TABLE_TO_METADATA,
        qualified,
        statement,
        {"cascade_via_foreign_keys": cascade},
    )


def do_distribute_schema(
    actor: Actor, cluster: Cluster, schema: str, statement: sql.Composed, undistribute: bool
) -> list[str]:
    return _run(
        actor,
        cluster,
        Action.UNDISTRIBUTE_SCHEMA if undistribute else Action.DISTRIBUTE_SCHEMA,
        Perm.DISTRIBUTE_SCHEMA,
        schema,
        statement,
        {"undistribute": undistribute},
    )


def do_grant(
    actor: Actor, cluster: Cluster, qualified: str, statement: sql.Composed, parameters: dict[str, Any]
) -> list[str]:
    return _run(
        actor,
        cluster,
        Action.GRANT_PRIVILEGES,
        Perm.GRANT_PRIVILEGES,
        qualified,
        statement,
        parameters,
        timeout_ms=30_000,
    )
