"""Registered Citus clusters and the last thing we learned about each."""

from __future__ import annotations

import hashlib

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from citusadmin import crypto
from citusadmin.citus import errors
from citusadmin.citus.connection import ClusterTarget

SSL_MODES = [(m, m) for m in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")]
TLS_VERSIONS = [("", "default"), ("TLSv1.2", "TLSv1.2"), ("TLSv1.3", "TLSv1.3")]

host_validator = RegexValidator(
    r"^[A-Za-z0-9]([A-Za-z0-9.\-:_]*[A-Za-z0-9])?$|^/[^\s]+$",
    "Enter a host name, an IP address, or a socket directory path.",
)


class Cluster(models.Model):
    """A Citus cluster, reached through its coordinator with libpq connection settings.

    The password, when given here rather than in a pgpass or service file, is stored encrypted
    (``citusadmin.crypto``) and only ever decrypted into the connection parameters.
    """

    name = models.SlugField(max_length=63, unique=True, help_text="Short name: letters, digits, - and _.")
    description = models.CharField(max_length=200, blank=True)
    service = models.CharField(
        max_length=63, blank=True, help_text="libpq service name from pg_service.conf; other fields override it."
    )
    host = models.CharField(max_length=255, blank=True, validators=[host_validator])
    port = models.PositiveIntegerField(default=5432, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    dbname = models.CharField("database", max_length=63, default="postgres")
    user = models.CharField(max_length=63, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    passfile = models.CharField(max_length=255, blank=True, help_text="Path of a pgpass file on the dashboard host.")
    sslmode = models.CharField(max_length=12, choices=SSL_MODES, default="prefer")
    sslrootcert = models.CharField("CA certificate", max_length=255, blank=True)
    sslcert = models.CharField("client certificate", max_length=255, blank=True)
    sslkey = models.CharField("client key", max_length=255, blank=True)
    sslcrl = models.CharField("CRL", max_length=255, blank=True)
    ssl_min_protocol_version = models.CharField(max_length=8, choices=TLS_VERSIONS, blank=True)
    is_sandbox = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        default_permissions = ("view",)
        permissions = [
            ("manage_cluster", "Register, edit and remove clusters"),
            ("test_connection", "Test a cluster's connection"),
            ("create_extension", "Create the citus extension"),
            ("view_all_clusters", "See every registered cluster (without it: only clusters granted by name)"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def set_password(self, raw: str | None) -> None:
        self.password_encrypted = crypto.encrypt(raw) if raw else ""

    @property
    def address(self) -> str:
        if self.service and not self.host:
            return f"service={self.service}"
        return f"{self.host or 'localhost'}:{self.port}"

    def libpq_params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        for field in (
            "service",
            "host",
            "dbname",
            "user",
            "passfile",
            "sslmode",
            "sslrootcert",
            "sslcert",
            "sslkey",
            "sslcrl",
            "ssl_min_protocol_version",
        ):
            value = getattr(self, field)
            if value:
                params[field] = value
        if self.host or not self.service:
            params["port"] = str(self.port)
        return params

    def target(self) -> ClusterTarget:
        """Connection target for the gateway. The key changes when any setting changes."""
        params = self.libpq_params()
        if self.password_encrypted:
            try:
                params["password"] = crypto.decrypt(self.password_encrypted)
            except crypto.DecryptionFailed as exc:
                raise errors.AuthenticationFailed(str(exc)) from None
        fingerprint = hashlib.sha256(
            repr(sorted(params.items())).encode() + self.updated_at.isoformat().encode()
        ).hexdigest()[:16]
        return ClusterTarget.from_params(self.name, key=f"{self.pk}:{fingerprint}", **params)


class ClusterProbe(models.Model):
    """The latest connection check of a cluster (from 'Test connection' or the periodic probe)."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, related_name="probe")
    checked_at = models.DateTimeField()
    ok = models.BooleanField()
    error_kind = models.CharField(max_length=30, blank=True)
    error = models.TextField(blank=True)
    server_version = models.CharField(max_length=100, blank=True)
    citus_version = models.CharField(max_length=40, blank=True)
    extversion = models.CharField(max_length=40, blank=True)
    worker_count = models.PositiveIntegerField(null=True)
    connect_ms = models.PositiveIntegerField(null=True)

    def __str__(self) -> str:
        return f"{self.cluster}: {'ok' if self.ok else self.error_kind}"


class ClusterAccess(models.Model):
    """A cluster given by name to a user who does not see every cluster (a Requester)."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="cluster_grants")
    granted_by = models.CharField(max_length=150, blank=True)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["user", "cluster"], name="cluster_access_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.cluster}"
