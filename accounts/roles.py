"""The four roles, as Django groups, and the operation permissions each holds.

Permissions are named after operations (``nodes.add_node``) and checked on the server. A later app
adds its permissions here; ``sync_roles`` runs after every migrate so groups follow.
"""

from __future__ import annotations

from typing import Any

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"
AUDITOR = "Auditor"
REQUESTER = "Requester"

# An application team member: sees only the clusters granted to them by name, follows jobs there,
# and asks for changes that an Admin approves.
_REQUESTER = {"clusters.view_cluster", "jobs.view_job", "selfservice.request_change"}
_VIEWER = _REQUESTER | {"clusters.view_all_clusters", "monitoring.view_monitoring"}
_OPERATOR = _VIEWER | {
    "clusters.test_connection",
    "monitoring.collect_now",
    "jobs.start_rebalance",
    "jobs.start_maintenance",
    "jobs.cancel_job",
    "monitoring.cancel_session",
    "monitoring.terminate_session",
}
_ADMIN = _OPERATOR | {
    "nodes.add_node",
    "nodes.remove_node",
    "nodes.activate_node",
    "nodes.disable_node",
    "nodes.update_node",
    "nodes.set_should_have_shards",
    "nodes.set_coordinator_host",
    "jobs.drain_node",
    "jobs.alter_table",
    "tables.distribute_table",
    "tables.make_reference_table",
    "tables.undistribute_table",
    "tables.add_table_to_metadata",
    "tables.grant_privileges",
    "tables.distribute_schema",
    "clusters.manage_cluster",
    "clusters.create_extension",
    "accounts.manage_users",
    "audit.view_audit",
    "monitoring.reset_stats",
    "selfservice.decide_change",
}
_AUDITOR = {"audit.view_audit"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
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
            if found is not None:
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
