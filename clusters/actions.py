"""State changes on clusters. Each checks its permission and writes its audit entry."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from audit.actions import audited, record
from audit.models import AuditEntry
from audit.names import Action
from citusadmin.citus import capabilities as caps_mod
from citusadmin.citus import errors, extension
from citusadmin.citus.connection import close_pools, session
from citusadmin.citus.probe import ConnectionReport, check_connection
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster, ClusterProbe


def _safe_params(cluster: Cluster) -> dict[str, Any]:
    """Connection settings for the audit entry: never the password itself."""
    params: dict[str, Any] = cluster.libpq_params()
    params["password_stored"] = cluster.has_password
    if cluster.has_patroni:
        params.update(
            patroni_etcd=cluster.patroni_etcd,
            patroni_scope=cluster.patroni_scope,
            patroni_rest=cluster.patroni_rest,
            patroni_user=cluster.patroni_user,
            patroni_password_stored=bool(cluster.patroni_password_encrypted),
        )
    return params


def do_register_cluster(actor: Actor, fields: dict[str, Any], password: str = "") -> Cluster:
    with audited(actor, Action.REGISTER_CLUSTER, perm=Perm.MANAGE_CLUSTER, target=fields.get("name", "")) as entry:
        patroni_password = fields.pop("patroni_password", "")
        cluster = Cluster(**fields)
        cluster.set_password(password)
        cluster.set_patroni_password(patroni_password)
        cluster.save()
        entry.parameters = _safe_params(cluster)
    return cluster


def do_update_cluster(
    actor: Actor, cluster: Cluster, fields: dict[str, Any], password: str = "", clear_password: bool = False
) -> Cluster:
    with audited(actor, Action.UPDATE_CLUSTER, perm=Perm.MANAGE_CLUSTER, cluster=cluster, target=cluster.name) as entry:
        fields = dict(fields)
        if patroni_password := fields.pop("patroni_password", ""):
            cluster.set_patroni_password(patroni_password)
        for key, value in fields.items():
            setattr(cluster, key, value)
        if password:
            cluster.set_password(password)
        elif clear_password:
            cluster.set_password(None)
        cluster.save()
        entry.parameters = _safe_params(cluster)
        entry.parameters["password_changed"] = bool(password) or clear_password
    close_pools(prefix=f"{cluster.pk}:")
    return cluster


def do_delete_cluster(actor: Actor, cluster: Cluster) -> None:
    """Unregisters the cluster from the console. Nothing is sent to the cluster itself."""
    pk = cluster.pk
    with audited(actor, Action.DELETE_CLUSTER, perm=Perm.MANAGE_CLUSTER, cluster=cluster, target=cluster.name):
        cluster.delete()
    close_pools(prefix=f"{pk}:")


def _store_probe(cluster: Cluster, report: ConnectionReport | None, error: errors.CitusError | None) -> None:
    values: dict[str, Any] = {"checked_at": timezone.now(), "ok": error is None}
    if report is not None:
        c = report.capabilities
        values |= {
            "server_version": c.server_version,
            "citus_version": c.citus_version or "",
            "extversion": c.extversion or "",
            "worker_count": len(report.workers),
            "connect_ms": report.connect_ms,
            "error": "",
            "error_kind": "",
        }
    if error is not None:
        values |= {"error": error.as_text(), "error_kind": error.kind}
    ClusterProbe.objects.update_or_create(cluster=cluster, defaults=values)


def do_test_connection(actor: Actor, cluster: Cluster) -> ConnectionReport:
    """Connects directly, reports the Citus version and topology or the exact reason it failed.

    The outcome is stored as the cluster's latest probe either way; a failure is re-raised.
    """
    report: ConnectionReport | None = None
    with audited(
        actor,
        Action.TEST_CONNECTION,
        perm=Perm.TEST_CONNECTION,
        cluster=cluster,
        target=cluster.address,
        atomic=False,
    ) as entry:
        try:
            report = check_connection(cluster.target())
        except errors.CitusError as exc:
            entry.failure = exc
        _store_probe(cluster, report, entry.failure)
        if report is not None:
            entry.result = f"Citus {report.capabilities.citus_version}, {len(report.workers)} worker(s)"
    if entry.failure is not None:
        raise entry.failure
    assert report is not None
    return report


def probe_cluster(cluster: Cluster) -> ClusterProbe:
    """The periodic probe (Celery beat): not a change, so not audited; one short check."""
    try:
        report = check_connection(cluster.target())
    except errors.CitusError as exc:
        _store_probe(cluster, None, exc)
    else:
        _store_probe(cluster, report, None)
    return ClusterProbe.objects.get(cluster=cluster)


def do_create_extension(actor: Actor, cluster: Cluster) -> bool:
    """``CREATE EXTENSION IF NOT EXISTS citus`` on the coordinator's database, after pre-checks."""
    target = cluster.target()
    with audited(
        actor,
        Action.CREATE_EXTENSION,
        perm=Perm.CREATE_EXTENSION,
        cluster=cluster,
        target=f"{cluster.address}/{cluster.dbname}",
        atomic=False,
    ) as entry:
        caps = caps_mod.get_capabilities(target, refresh=True)
        extension.check_can_create(caps)
        with session(target) as sess:
            created = extension.create_extension(sess)
        caps_mod.forget(target)
        entry.result = "created" if created else "already existed"
    return created


def record_sandbox_registration(cluster: Cluster) -> None:
    record(
        None,
        Action.REGISTER_SANDBOX,
        AuditEntry.Outcome.SUCCEEDED,
        cluster=cluster,
        target=cluster.address,
        parameters=_safe_params(cluster),
        actor_name="citus_sandbox",
    )
