"""Registering clusters and their alert rules through the API (Terraform, Ansible): the page's own
``ClusterForm`` and ``AlertRuleForm`` validate, the same audited actions store. Passwords are written,
never read back."""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.http import HttpRequest, HttpResponse
from ninja import Schema
from pydantic import Field

from citusadmin.api.core import api, as_json, idempotent, require, validated, visible_cluster
from citusadmin.perms import Perm
from clusters import actions
from clusters.forms import ClusterForm
from monitoring import actions as monitoring_actions
from monitoring.alerts import RULES
from monitoring.forms import AlertRuleForm
from monitoring.models import AlertOverride


class ClusterIn(Schema):
    """Fields as on the registration page; on an update, what is left out keeps its value."""

    name: str | None = Field(None, max_length=63)
    description: str | None = Field(None, max_length=200)
    service: str | None = Field(None, max_length=100)
    host: str | None = Field(None, max_length=255)
    port: int | None = None
    dbname: str | None = Field(None, max_length=63)
    user: str | None = Field(None, max_length=63)
    password: str | None = Field(None, max_length=500, description="stored encrypted; never returned")
    passfile: str | None = Field(None, max_length=255)
    sslmode: str | None = Field(None, max_length=12)
    sslrootcert: str | None = Field(None, max_length=255)
    sslcert: str | None = Field(None, max_length=255)
    sslkey: str | None = Field(None, max_length=255)
    sslcrl: str | None = Field(None, max_length=255)
    ssl_min_protocol_version: str | None = Field(None, max_length=8)
    other_hosts: str | None = Field(None, max_length=500)
    patroni_etcd: str | None = Field(None, max_length=500)
    patroni_scope: str | None = Field(None, max_length=100)
    patroni_namespace: str | None = Field(None, max_length=100)
    patroni_rest: str | None = Field(None, max_length=4000)
    patroni_user: str | None = Field(None, max_length=100)
    patroni_password: str | None = Field(None, max_length=500, description="stored encrypted; never returned")
    patroni_cafile: str | None = Field(None, max_length=255)
    patroni_certfile: str | None = Field(None, max_length=255)
    patroni_keyfile: str | None = Field(None, max_length=255)


class ClusterDetailOut(Schema):
    id: int
    name: str
    description: str
    host: str
    port: int
    dbname: str
    user: str
    sslmode: str
    other_hosts: str
    patroni: bool
    password_stored: bool


class RuleIn(Schema):
    enabled: bool = True
    for_minutes: int | None = None
    threshold: float | None = None


class RuleOut(Schema):
    rule: str
    title: str
    severity: str
    enabled: bool
    for_minutes: int
    threshold: float | None
    own: bool


def _out(cluster: Any) -> dict[str, Any]:
    return {
        **{f: getattr(cluster, f) for f in ("id", "name", "description", "host", "port", "dbname", "user", "sslmode")},
        "other_hosts": cluster.other_hosts,
        "patroni": cluster.has_patroni,
        "password_stored": cluster.has_password,
    }


def _form_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("password", "clear_password")}


@api.post("/clusters", response={201: ClusterDetailOut}, summary="Register a cluster (Admins)")
def register(request: HttpRequest, payload: ClusterIn) -> HttpResponse:
    require(request, Perm.MANAGE_CLUSTER)
    values = {k: v for k, v in payload.dict().items() if v is not None}
    data = validated(ClusterForm, {"port": 5432, "dbname": "postgres", "sslmode": "prefer", **values})

    def run() -> tuple[int, dict[str, Any]]:
        cluster = actions.do_register_cluster(request.user, _form_fields(data), data.get("password") or "")
        return 201, as_json(_out(cluster))

    return idempotent(request, run)


@api.post("/clusters/{cluster_id}", response=ClusterDetailOut, summary="Change a cluster's settings (Admins)")
def update(request: HttpRequest, cluster_id: int, payload: ClusterIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.MANAGE_CLUSTER)
    current = {k: v for k, v in model_to_dict(cluster, fields=ClusterForm.Meta.fields).items() if v is not None}
    changes = {k: v for k, v in payload.dict().items() if v is not None}
    data = validated(ClusterForm, {**current, **changes}, instance=cluster)

    def run() -> tuple[int, dict[str, Any]]:
        actions.do_update_cluster(request.user, cluster, _form_fields(data), data.get("password") or "")
        cluster.refresh_from_db()
        return 200, as_json(_out(cluster))

    return idempotent(request, run)


@api.delete("/clusters/{cluster_id}", response={204: None}, summary="Unregister a cluster (nothing is sent to it)")
def unregister(request: HttpRequest, cluster_id: int) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.MANAGE_CLUSTER)

    def run() -> tuple[int, dict[str, Any]]:
        actions.do_delete_cluster(request.user, cluster)
        return 200, {"done": f"{cluster.name} is no longer registered; nothing was sent to the cluster."}

    return idempotent(request, run)


@api.post("/clusters/{cluster_id}/test", summary="Test the connection (Citus version, nodes) or say why it fails")
def test_connection(request: HttpRequest, cluster_id: int) -> Any:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.TEST_CONNECTION)
    report = actions.do_test_connection(request.user, cluster)
    return {
        "connect_ms": report.connect_ms,
        "citus_version": report.capabilities.citus_version,
        "server_version": report.capabilities.server_version,
        "nodes": [n.address for n in report.nodes],
    }


@api.get("/clusters/{cluster_id}/alert-rules", response=list[RuleOut], summary="Alert rules as this cluster has them")
def rules(request: HttpRequest, cluster_id: int) -> Any:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.VIEW_MONITORING)
    own = {o.rule: o for o in AlertOverride.objects.filter(cluster=cluster)}
    out = []
    for rule in RULES.values():
        o = own.get(rule.name)
        out.append(
            {
                "rule": rule.name,
                "title": rule.title,
                "severity": rule.severity,
                "enabled": o.enabled if o else True,
                "for_minutes": o.for_minutes if o and o.for_minutes is not None else rule.for_minutes,
                "threshold": o.threshold if o and o.threshold is not None else rule.threshold,
                "own": o is not None,
            }
        )
    return out


@api.post("/clusters/{cluster_id}/alert-rules/{rule}", summary="Switch a rule off or change it on this cluster")
def set_rule(request: HttpRequest, cluster_id: int, rule: str, payload: RuleIn) -> HttpResponse:
    cluster = visible_cluster(request, cluster_id)
    require(request, Perm.CONFIGURE_ALERTS)
    data = validated(AlertRuleForm, {"rule": rule, **payload.dict()})

    def run() -> tuple[int, dict[str, Any]]:
        result = monitoring_actions.do_set_alert_rule(
            request.user,
            cluster,
            data["rule"],
            enabled=data["enabled"],
            for_minutes=data["for_minutes"],
            threshold=data["threshold"],
        )
        return 200, {
            "done": f"{RULES[data['rule']].title} on {cluster.name}: {result}.",
            "statement": "",
            "notices": [],
        }

    return idempotent(request, run)
