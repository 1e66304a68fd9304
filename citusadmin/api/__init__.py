"""/api/v1/: see ``citusadmin.api.core`` for authentication, errors and idempotency; the routes are in
``reads`` and ``writes`` (imported here so that they are declared before the URLs are built)."""

from citusadmin.api import more, reads, registry, writes  # noqa: F401  (declares the routes)
from citusadmin.api.core import api, exempt_from_login, token_digest

__all__ = ["api", "exempt_from_login", "token_digest"]
