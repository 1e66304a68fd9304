"""Every permission the console checks, declared once.

Code names them through :class:`Perm` (a typo is an ``AttributeError`` at import, not a check that
silently never passes); each value is declared on a model's ``Meta.permissions`` (or is a Django
default permission of that model), which the system check ``citusadmin.E020`` verifies at start-up,
together with the roles in ``accounts.roles``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING


class Perm(StrEnum):
    # clusters
    VIEW_CLUSTER = "clusters.view_cluster"
    VIEW_ALL_CLUSTERS = "clusters.view_all_clusters"
    MANAGE_CLUSTER = "clusters.manage_cluster"
    TEST_CONNECTION = "clusters.test_connection"
    CREATE_EXTENSION = "clusters.create_extension"
    # nodes
    ADD_NODE = "nodes.add_node"
    REMOVE_NODE = "nodes.remove_node"
    ACTIVATE_NODE = "nodes.activate_node"
    DISABLE_NODE = "nodes.disable_node"
    UPDATE_NODE = "nodes.update_node"
    SET_SHOULD_HAVE_SHARDS = "nodes.set_should_have_shards"
    SET_COORDINATOR_HOST = "nodes.set_coordinator_host"
    # tables
    DISTRIBUTE_TABLE = "tables.distribute_table"
    MAKE_REFERENCE_TABLE = "tables.make_reference_table"
    UNDISTRIBUTE_TABLE = "tables.undistribute_table"
    ADD_TABLE_TO_METADATA = "tables.add_table_to_metadata"
    GRANT_PRIVILEGES = "tables.grant_privileges"
    DISTRIBUTE_SCHEMA = "tables.distribute_schema"
    # jobs
    VIEW_JOB = "jobs.view_job"
    START_REBALANCE = "jobs.start_rebalance"
    START_MAINTENANCE = "jobs.start_maintenance"
    DRAIN_NODE = "jobs.drain_node"
    ALTER_TABLE = "jobs.alter_table"
    CANCEL_JOB = "jobs.cancel_job"
    PATRONI_SWITCHOVER = "clusters.patroni_switchover"
    PATRONI_MANAGE = "clusters.patroni_manage"
    # monitoring
    VIEW_MONITORING = "monitoring.view_monitoring"
    COLLECT_NOW = "monitoring.collect_now"
    CANCEL_SESSION = "monitoring.cancel_session"
    TERMINATE_SESSION = "monitoring.terminate_session"
    RESET_STATS = "monitoring.reset_stats"
    EXPLAIN_QUERY = "monitoring.explain_query"
    EXPLAIN_ANALYZE = "monitoring.explain_analyze"
    ACKNOWLEDGE_ALERT = "monitoring.acknowledge_alert"
    CONFIGURE_ALERTS = "monitoring.configure_alerts"
    # self-service, users, audit
    REQUEST_CHANGE = "selfservice.request_change"
    DECIDE_CHANGE = "selfservice.decide_change"
    MANAGE_USERS = "accounts.manage_users"
    VIEW_AUDIT = "audit.view_audit"


def declared_permissions() -> set[str]:
    """What the installed models declare: ``Meta.permissions`` and their default permissions."""
    from django.apps import apps

    found: set[str] = set()
    for model in apps.get_models():
        meta = model._meta
        found.update(f"{meta.app_label}.{codename}" for codename, _ in meta.permissions)
        found.update(f"{meta.app_label}.{action}_{meta.model_name}" for action in meta.default_permissions)
    return found


if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    # Who acts: the request's user (actions check their permission, refuse the anonymous one, and name
    # them in the audit trail).
    Actor = AbstractUser | AnonymousUser
else:
    Actor = object
