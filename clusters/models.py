"""Registered Citus clusters and the last thing we learned about each."""

from __future__ import annotations

import hashlib
import re

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from citusadmin import crypto
from citusadmin.citus import errors
from citusadmin.citus.connection import ClusterTarget
from citusadmin.params import parse_int

SSL_MODES = [(m, m) for m in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")]
TLS_VERSIONS = [("", "default"), ("TLSv1.2", "TLSv1.2"), ("TLSv1.3", "TLSv1.3")]

host_validator = RegexValidator(
    r"^[A-Za-z0-9]([A-Za-z0-9.\-:_]*[A-Za-z0-9])?$|^/[^\s]+$",
    "Enter a host name, an IP address, or a socket directory path.",
)


def _host_port(item: str) -> tuple[str, int] | None:
    host, _, port = item.strip().rpartition(":")
    if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def other_hosts_validator(value: str) -> None:
    from django.core.exceptions import ValidationError

    for item in filter(None, (i.strip() for i in value.split(","))):
        parsed = _host_port(item)
        if parsed is None or not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.\-_]*[A-Za-z0-9])?", parsed[0]):
            raise ValidationError(f"{item[:60]}: write host:port.")


def url_list_validator(value: str) -> None:
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    check = URLValidator(schemes=["http", "https"])
    for item in filter(None, (i.strip() for i in value.split(","))):
        try:
            check(item)
        except ValidationError:
            raise ValidationError(f"{item[:60]}: write http(s)://host:port.") from None


def rest_urls_validator(value: str) -> None:
    from django.core.exceptions import ValidationError

    for line in filter(None, (ln.strip() for ln in value.splitlines())):
        group, _, urls = line.partition(" ")
        if not group.isascii() or not group.isdigit() or not urls.strip():
            raise ValidationError(f"{line[:60]}: write 'group url [url ...]'.")
        url_list_validator(",".join(urls.split()))


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
    # High availability (Patroni): the other members of the coordinator group, tried in turn by libpq
    # (target_session_attrs=read-write finds the leader), and how to reach Patroni itself.
    other_hosts = models.CharField(
        "other coordinator members",
        max_length=500,
        blank=True,
        validators=[other_hosts_validator],
        help_text="host:port, comma separated: the coordinator group's replicas. libpq connects to whichever "
        "accepts writes, so the console follows a failover.",
    )
    patroni_etcd = models.CharField(
        "Patroni DCS (etcd v3 endpoints)",
        max_length=500,
        blank=True,
        validators=[url_list_validator],
        help_text="http(s)://host:port, comma separated; read only (every Citus group in one request).",
    )
    patroni_scope = models.CharField(
        "Patroni scope", max_length=100, blank=True, validators=[RegexValidator(r"^[A-Za-z0-9_.\-]+$")]
    )
    patroni_namespace = models.CharField("Patroni namespace", max_length=100, default="/service/", blank=True)
    patroni_rest = models.TextField(
        "Patroni REST API per group",
        blank=True,
        validators=[rest_urls_validator],
        help_text="One line per Citus group: 'group url [url ...]' (for example '0 http://10.0.0.1:8008 "
        "http://10.0.0.2:8008'); used when there is no DCS to read, and for operations.",
    )
    patroni_user = models.CharField("Patroni REST user", max_length=100, blank=True)
    patroni_password_encrypted = models.TextField(blank=True, editable=False)
    patroni_cafile = models.CharField("Patroni CA certificate", max_length=255, blank=True)
    patroni_certfile = models.CharField("Patroni client certificate", max_length=255, blank=True)
    patroni_keyfile = models.CharField("Patroni client key", max_length=255, blank=True)
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
            ("patroni_switchover", "Switch a Citus group's Patroni leader over to another member"),
            ("patroni_manage", "Restart or reinitialize a Patroni member, pause or resume automatic failover"),
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
        others = [p for p in (_host_port(i) for i in self.other_hosts.split(",") if i.strip()) if p]
        if others and self.host:
            params["host"] = ",".join([self.host, *(h for h, _ in others)])
            params["port"] = ",".join([str(self.port), *(str(p) for _, p in others)])
            params["target_session_attrs"] = "read-write"  # the group's leader, wherever it is now
        return params

    @property
    def has_patroni(self) -> bool:
        return bool(self.patroni_etcd and self.patroni_scope) or bool(self.patroni_rest.strip())

    def set_patroni_password(self, raw: str | None) -> None:
        self.patroni_password_encrypted = crypto.encrypt(raw) if raw else ""

    def rest_urls(self) -> dict[int, list[str]]:
        """The Patroni REST API base URLs given per Citus group."""
        found: dict[int, list[str]] = {}
        for line in filter(None, (ln.strip() for ln in self.patroni_rest.splitlines())):
            group, _, urls = line.partition(" ")
            if (number := parse_int(group)) is not None:
                found[number] = [u.rstrip("/") for u in urls.split()]
        return found

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


class PatroniLeader(models.Model):
    """The leader of each Citus group as the console last saw it in Patroni (``clusters.tasks.watch_patroni``):
    a change is a failover or switchover, written to the audit trail once and shown as a banner."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="patroni_leaders")
    group = models.IntegerField()
    leader = models.CharField(max_length=100, blank=True)
    previous = models.CharField(max_length=100, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField()

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["cluster", "group"], name="one_leader_row_per_group")]

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.group}: {self.leader}"
