"""Create (or confirm) the first Admin account. Safe to run again."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand

from accounts.roles import ADMIN
from audit.actions import record
from audit.models import AuditEntry
from audit.names import Action
from citusadmin import request_context


class Command(BaseCommand):
    help = "Create an Admin user. The password comes from CITUSADMIN_ADMIN_PASSWORD or is generated and printed once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--reset-password", action="store_true", help="set a new password for an existing user")
        parser.add_argument(
            "--password-file", help="write the generated password to this file (mode 0600) instead of printing it"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        request_context.set_current(request_context.RequestContext(source="cli"))
        username = options["username"]
        user = User.objects.filter(username=username).first()
        password = os.environ.get("CITUSADMIN_ADMIN_PASSWORD") or None
        created = user is None
        if user is None:
            user = User(username=username)
        new_password = None
        if created or options["reset_password"]:
            new_password = password or secrets.token_urlsafe(12)
            user.set_password(new_password)
        user.is_active = True
        user.save()
        user.groups.add(Group.objects.get(name=ADMIN))
        record(
            None,
            Action.CREATE_ADMIN,
            AuditEntry.Outcome.SUCCEEDED,
            target=username,
            actor_name="manage.py create_admin",
            parameters={"created": created, "password_reset": new_password is not None},
        )
        if new_password is None:
            self.stdout.write(f"Admin user {username!r} already exists (password unchanged).")
            return
        if password:
            self.stdout.write(f"Admin user {username!r} ready, password from CITUSADMIN_ADMIN_PASSWORD.")
        elif options["password_file"]:
            fd = os.open(options["password_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(new_password + "\n")
            self.stdout.write(f"Admin user {username!r} ready; its password is in {options['password_file']}.")
        else:
            self.stdout.write(f"Admin user {username!r} ready. Password (shown once): {new_password}")
