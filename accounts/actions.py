"""User management actions (Admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from accounts.roles import ROLES
from audit.actions import audited
from audit.names import Action
from citusadmin.perms import Actor, Perm


def do_create_user(actor: Actor, username: str, password: str, role: str) -> User:
    with audited(actor, Action.CREATE_USER, perm=Perm.MANAGE_USERS, target=username, parameters={"role": role}):
        user = User.objects.create_user(username=username, password=password)
        user.groups.set([Group.objects.get(name=role)])
    return user


def do_set_role(actor: Actor, user: User, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    with audited(
        actor,
        Action.SET_ROLE,
        perm=Perm.MANAGE_USERS,
        target=user.username,
        parameters={"role": role, "previous": [g.name for g in user.groups.all()]},
    ):
        user.groups.set([Group.objects.get(name=role)])


def do_set_active(actor: Actor, user: User, active: bool) -> None:
    with audited(
        actor,
        Action.ACTIVATE_USER if active else Action.DEACTIVATE_USER,
        perm=Perm.MANAGE_USERS,
        target=user.username,
    ):
        if user.pk == getattr(actor, "pk", None) and not active:
            raise ValueError("You cannot deactivate your own account.")
        user.is_active = active
        user.save(update_fields=["is_active"])


def do_set_clusters(actor: Actor, user: User, clusters: list[Any]) -> None:
    """The clusters a Requester sees (others see every cluster). Replaces the previous set."""
    from clusters.models import ClusterAccess

    with audited(
        actor,
        Action.SET_CLUSTERS,
        perm=Perm.MANAGE_USERS,
        target=user.username,
        parameters={
            "clusters": sorted(c.name for c in clusters),
            "previous": sorted(ClusterAccess.objects.filter(user=user).values_list("cluster__name", flat=True)),
        },
    ):
        ClusterAccess.objects.filter(user=user).exclude(cluster__in=clusters).delete()
        have = set(ClusterAccess.objects.filter(user=user).values_list("cluster_id", flat=True))
        ClusterAccess.objects.bulk_create(
            [ClusterAccess(user=user, cluster=c, granted_by=actor.get_username()) for c in clusters if c.pk not in have]
        )
