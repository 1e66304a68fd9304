"""Encryption of secrets at rest (cluster passwords) with keys from the environment.

MultiFernet: the first key of CITUSADMIN_ENCRYPTION_KEYS encrypts; every key decrypts, so keys can
be rotated by putting a new one first.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.ENCRYPTION_KEYS])
    except ValueError:
        raise ImproperlyConfigured(
            "CITUSADMIN_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes)"
        ) from None


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


class DecryptionFailed(Exception):
    pass


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed(
            "a stored secret cannot be decrypted with CITUSADMIN_ENCRYPTION_KEYS (was the key changed?)"
        ) from None
