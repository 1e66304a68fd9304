"""The four roles, as Django groups, and the operation permissions each holds.

Permissions are named after operations (``nodes.add_node``) and checked on the server. A later app
adds its permissions here; ``sync_roles`` runs after every migrate so groups follow.
"""

from __future__ import annotations

from typing import Any

from citusadmin.perms import Perm

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"
AUDITOR = "Auditor"
REQUESTER = "Requester"

# An application team member: sees only the clusters granted to them by name, follows jobs there,
# and asks for changes that an Admin approves.
_REQUESTER = {Perm.VIEW_CLUSTER, Perm.VIEW_JOB, Perm.REQUEST_CHANGE, Perm.EXPLAIN_QUERY}
_VIEWER = _REQUESTER | {Perm.VIEW_ALL_CLUSTERS, Perm.VIEW_MONITORING}
_OPERATOR = _VIEWER | {
    Perm.TEST_CONNECTION,
    Perm.COLLECT_NOW,
    Perm.START_REBALANCE,
    Perm.START_MAINTENANCE,
    Perm.CANCEL_JOB,
    Perm.CANCEL_SESSION,
    Perm.TERMINATE_SESSION,
    Perm.EXPLAIN_ANALYZE,
    Perm.ACKNOWLEDGE_ALERT,
}
_ADMIN = _OPERATOR | {
    Perm.ADD_NODE,
    Perm.REMOVE_NODE,
    Perm.ACTIVATE_NODE,
    Perm.DISABLE_NODE,
    Perm.UPDATE_NODE,
    Perm.SET_SHOULD_HAVE_SHARDS,
    Perm.SET_COORDINATOR_HOST,
    Perm.DRAIN_NODE,
    Perm.ALTER_TABLE,
    Perm.DISTRIBUTE_TABLE,
    Perm.MAKE_REFERENCE_TABLE,
    Perm.UNDISTRIBUTE_TABLE,
    Perm.ADD_TABLE_TO_METADATA,
    Perm.GRANT_PRIVILEGES,
    Perm.DISTRIBUTE_SCHEMA,
    Perm.MANAGE_CLUSTER,
    Perm.CREATE_EXTENSION,
    Perm.MANAGE_USERS,
    Perm.VIEW_AUDIT,
    Perm.RESET_STATS,
    Perm.DECIDE_CHANGE,
    Perm.CONFIGURE_ALERTS,
    Perm.PATRONI_SWITCHOVER,
    Perm.PATRONI_MANAGE,
}
_AUDITOR = {Perm.VIEW_AUDIT}

ROLE_PERMISSIONS: dict[str, set[Perm]] = {
    VIEWER: _VIEWER,
    OPERATOR: _OPERATOR,
    ADMIN: _ADMIN,
    AUDITOR: _AUDITOR,
    REQUESTER: _REQUESTER,
}
ROLES = list(ROLE_PERMISSIONS)


def sync_roles(apps: Any) -> None:
    """Create the groups and set exactly their permissions (idempotent)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for dotted in sorted(perms):
            app_label, codename = dotted.split(".", 1)
            found = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:  # every Perm is declared on a model (system check citusadmin.E020)
                wanted.append(found)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender: Any, apps: Any = None, **kwargs: Any) -> None:
    if sender.name != "accounts" or apps is None:
        return
    try:
        apps.get_model("auth", "Group")
    except LookupError:
        return
    sync_roles(apps)
