"""Permissions that belong to no stored object."""

from django.db import models


class AccountPermissions(models.Model):
    """Holds the ``accounts.*`` operation permissions; no table is created."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_users", "Create users and assign roles")]

    def __str__(self) -> str:
        return "account permissions"
