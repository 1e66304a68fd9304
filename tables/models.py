"""Permissions for table operations (the tables themselves live in Citus)."""

from django.db import models


class TablePermissions(models.Model):
    """Holds the ``tables.*`` operation permissions; no table is created."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("distribute_table", "Distribute a table"),
            ("make_reference_table", "Make a reference table"),
            ("undistribute_table", "Undistribute a table"),
            ("add_table_to_metadata", "Add a local table to Citus metadata"),
            ("grant_privileges", "Grant or revoke table privileges"),
            ("distribute_schema", "Distribute or undistribute a schema (schema-based sharding)"),
        ]

    def __str__(self) -> str:
        return "table permissions"
