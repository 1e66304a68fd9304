"""The cast: one user per role, with the password '<username>-password-123'."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User


def _user(username: str, role: str | None) -> User:
    if not Group.objects.exists():  # a transactional test flushed the roles the migration made
        from django.apps import apps

        from accounts.roles import sync_roles

        sync_roles(apps)
    user = User.objects.create_user(username=username, password=f"{username}-password-123")
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin(db: None) -> User:
    return _user("alice-admin", "Admin")


@pytest.fixture
def operator(db: None) -> User:
    return _user("oscar-operator", "Operator")


@pytest.fixture
def viewer(db: None) -> User:
    return _user("victor-viewer", "Viewer")


@pytest.fixture
def auditor(db: None) -> User:
    return _user("audrey-auditor", "Auditor")


@pytest.fixture
def requester(db: None) -> User:
    return _user("rita-requester", "Requester")


@pytest.fixture
def second_admin(db: None) -> User:
    return _user("bob-admin", "Admin")
