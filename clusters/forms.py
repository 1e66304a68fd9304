"""Registering and editing a cluster."""

from __future__ import annotations

import os
from typing import Any

from django import forms

from clusters.models import Cluster

PATH_FIELDS = ("passfile", "sslrootcert", "sslcert", "sslkey", "sslcrl")


class ClusterForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional: stored encrypted. Leave empty to keep the stored one (or to use pgpass/service).",
    )
    clear_password = forms.BooleanField(required=False, label="Remove the stored password")

    class Meta:
        model = Cluster
        fields = [
            "name",
            "description",
            "service",
            "host",
            "port",
            "dbname",
            "user",
            "passfile",
            "sslmode",
            "sslrootcert",
            "sslcert",
            "sslkey",
            "sslcrl",
            "ssl_min_protocol_version",
        ]
        labels = {
            "dbname": "Database",
            "user": "User",
            "passfile": "Password file (pgpass)",
            "sslmode": "SSL mode",
            "sslrootcert": "CA certificate",
            "sslcert": "Client certificate",
            "sslkey": "Client key",
            "sslcrl": "Certificate revocation list",
            "ssl_min_protocol_version": "Minimum TLS version",
        }

    # Which fields each part of the page shows, by exact name (each field exactly once).
    SECTIONS = (
        ("Cluster", ("name", "description")),
        ("Connection", ("service", "host", "port", "dbname", "user", "password", "clear_password", "passfile")),
        ("SSL/TLS", ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "ssl_min_protocol_version")),
    )

    def sections(self, *, has_password: bool = False) -> list[tuple[str, list[forms.BoundField]]]:
        return [
            (title, [self[name] for name in names if name != "clear_password" or has_password])
            for title, names in self.SECTIONS
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None
        if not data.get("host") and not data.get("service"):
            self.add_error(None, "Give a host, or a libpq service name.")
        for field in PATH_FIELDS:
            path = data.get(field)
            if path and not os.path.isfile(path):
                self.add_error(field, f"No readable file at {path} on the dashboard host.")
        if data.get("sslmode") == "verify-full" and data.get("host", "").startswith("/"):
            self.add_error("sslmode", "verify-full needs a host name, not a socket directory.")
        return data
