"""Registering and editing a cluster."""

from __future__ import annotations

import os
from typing import Any

from django import forms

from clusters.models import Cluster

PATH_FIELDS = (
    "passfile",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "patroni_cafile",
    "patroni_certfile",
    "patroni_keyfile",
)


class ClusterForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional: stored encrypted. Leave empty to keep the stored one (or to use pgpass/service).",
    )
    clear_password = forms.BooleanField(required=False, label="Remove the stored password")
    patroni_password = forms.CharField(
        required=False,
        strip=False,
        label="Patroni REST password",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional (basic auth of Patroni's REST API): stored encrypted. Empty keeps the stored one.",
    )

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
            "other_hosts",
            "patroni_etcd",
            "patroni_scope",
            "patroni_namespace",
            "patroni_rest",
            "patroni_user",
            "patroni_cafile",
            "patroni_certfile",
            "patroni_keyfile",
        ]
        widgets = {"patroni_rest": forms.Textarea(attrs={"rows": 3})}
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
        (
            "High availability (Patroni)",
            (
                "other_hosts",
                "patroni_etcd",
                "patroni_scope",
                "patroni_namespace",
                "patroni_rest",
                "patroni_user",
                "patroni_password",
                "patroni_cafile",
                "patroni_certfile",
                "patroni_keyfile",
            ),
        ),
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
        if data.get("patroni_etcd") and not data.get("patroni_scope"):
            self.add_error("patroni_scope", "The DCS holds many Patroni clusters: name this one's scope.")
        if data.get("other_hosts") and (data.get("host", "").startswith("/") or not data.get("host")):
            self.add_error("other_hosts", "Other members need the first member's host name or address above.")
        if data.get("sslmode") == "verify-full" and data.get("host", "").startswith("/"):
            self.add_error("sslmode", "verify-full needs a host name, not a socket directory.")
        return data
