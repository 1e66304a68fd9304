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


class ApiToken(models.Model):
    """A personal token for /api/v1/: named, read or write, with an expiry; only its SHA-256 is kept
    (the token is shown once). Every call made with it acts as its user, with the user's permissions,
    and is attributed to it in the audit trail."""

    class Scope(models.TextChoices):
        READ = "read", "read"
        WRITE = "write", "read and write"

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=60)
    prefix = models.CharField(max_length=12, unique=True)  # shown to tell tokens apart; not secret
    digest = models.CharField(max_length=64)  # sha256 of the whole token
    scope = models.CharField(max_length=5, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        default_permissions = ()
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotentCall(models.Model):
    """The answer to an API call that started something, under the caller's Idempotency-Key: a retry
    with the same key gets the same answer instead of starting a second job."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # method, path and body of the first call
    status = models.IntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_answer_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"
