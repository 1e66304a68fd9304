"""User management actions (Admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from accounts.roles import ROLES
from audit.actions import audited


def do_create_user(actor: Any, username: str, password: str, role: str) -> User:
    with audited(
        actor, "accounts.create_user", perm="accounts.manage_users", target=username, parameters={"role": role}
    ):
        user = User.objects.create_user(username=username, password=password)
        user.groups.set([Group.objects.get(name=role)])
    return user


def do_set_role(actor: Any, user: User, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    with audited(
        actor,
        "accounts.set_role",
        perm="accounts.manage_users",
        target=user.username,
        parameters={"role": role, "previous": [g.name for g in user.groups.all()]},
    ):
        user.groups.set([Group.objects.get(name=role)])


def do_set_active(actor: Any, user: User, active: bool) -> None:
    with audited(
        actor,
        "accounts.activate_user" if active else "accounts.deactivate_user",
        perm="accounts.manage_users",
        target=user.username,
    ):
        if user.pk == getattr(actor, "pk", None) and not active:
            raise ValueError("You cannot deactivate your own account.")
        user.is_active = active
        user.save(update_fields=["is_active"])
