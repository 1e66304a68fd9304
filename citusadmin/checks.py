"""System checks on the console's own declarations (run at start-up and by ``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error

from citusadmin.perms import Perm, declared_permissions


def permissions_declared(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Every permission the code checks is declared on a model, so it exists after migrate (and a
    role can hold it)."""
    declared = declared_permissions()
    missing = sorted(p.value for p in Perm if p.value not in declared)
    if not missing:
        return []
    return [
        Error(
            f"Permission(s) checked by the console but declared on no model: {', '.join(missing)}.",
            hint="Add them to a model's Meta.permissions (and a migration), or remove them from citusadmin.perms.Perm.",
            id="citusadmin.E020",
        )
    ]


def job_kinds_complete(app_configs: Any, **kwargs: Any) -> list[Error]:
    from jobs.kinds import KINDS, Mode

    errors = []
    declared = declared_permissions()
    for name, kind in KINDS.items():
        problems = []
        if kind.name != name or not 0 < len(name) <= 30:
            problems.append("its name must be its registry key, 1-30 characters")
        if not getattr(kind, "label", ""):
            problems.append("it has no label")
        if not isinstance(getattr(kind, "perm", None), Perm) or kind.perm.value not in declared:
            problems.append("its permission is not a declared Perm")
        if getattr(kind, "mode", None) not in tuple(Mode):
            problems.append("its mode is not a Mode")
        if problems:
            errors.append(Error(f"Job kind {name}: {'; '.join(problems)}.", id="citusadmin.E021"))
    return errors


def audit_actions_declared(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Audit action names (audit.names.Action) are unique, ``<app>.<verb>`` of an installed app, and
    never a job kind's own namespace."""
    from django.apps import apps

    from audit.names import Action

    errors = []
    labels = {config.label for config in apps.get_app_configs()}
    values = [a.value for a in Action]
    for action in Action:
        app, _, verb = action.value.partition(".")
        if app not in labels or not verb or "." in verb or app == "jobs":
            errors.append(
                Error(
                    f"Audit action {action.name} = {action.value!r} is not <installed app>.<verb>.",
                    id="citusadmin.E022",
                )
            )
    if len(set(values)) != len(values):
        errors.append(Error("Two audit actions share a name.", id="citusadmin.E022"))
    return errors
