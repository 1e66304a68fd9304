"""User management actions (Admin)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken
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


def do_create_token(actor: Actor, name: str, scope: str, days: int) -> tuple[ApiToken, str]:
    """A token for the actor themself; the token string is returned once and never stored."""
    from django.conf import settings

    from audit.actions import record
    from audit.models import AuditEntry

    prefix = secrets.token_hex(4)
    token = f"cat_{prefix}_{secrets.token_urlsafe(32)}"
    days = min(max(days, 1), settings.API_TOKEN_MAX_DAYS)
    with transaction.atomic():
        created = ApiToken.objects.create(
            user=cast("User", actor),
            name=name.strip()[:60] or "token",
            prefix=prefix,
            digest=hashlib.sha256(token.encode()).hexdigest(),
            scope=scope if scope in ApiToken.Scope.values else ApiToken.Scope.READ,
            expires_at=timezone.now() + timedelta(days=days),
        )
        record(
            actor,
            Action.CREATE_API_TOKEN,
            AuditEntry.Outcome.SUCCEEDED,
            target=f"{created.name} ({prefix})",
            parameters={"scope": created.scope, "expires_at": created.expires_at.isoformat()},
        )
    return created, token


def do_revoke_token(actor: Actor, token: ApiToken) -> None:
    """The owner, or an Admin (manage_users), revokes a token: it stops working at once."""
    from audit.actions import ensure_permission, record
    from audit.models import AuditEntry

    if token.user_id != actor.pk:
        ensure_permission(actor, Perm.MANAGE_USERS, action=Action.REVOKE_API_TOKEN, target=token.name)
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=actor.get_username()
        )
        record(
            actor,
            Action.REVOKE_API_TOKEN,
            AuditEntry.Outcome.SUCCEEDED,
            target=f"{token.name} ({token.prefix}) of {token.user.get_username()}",
        )
