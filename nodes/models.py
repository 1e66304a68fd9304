"""Permissions for topology operations (nothing is stored: the topology lives in Citus)."""

from django.db import models


class NodePermissions(models.Model):
    """Holds the ``nodes.*`` operation permissions; no table is created."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("add_node", "Add a node"),
            ("remove_node", "Remove a node"),
            ("activate_node", "Activate a node"),
            ("disable_node", "Disable a node"),
            ("update_node", "Move a node to another host or port"),
            ("set_should_have_shards", "Set a node's should-have-shards"),
            ("set_coordinator_host", "Set the coordinator's host"),
        ]

    def __str__(self) -> str:
        return "node permissions"
