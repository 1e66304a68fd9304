"""Extension management (the contract's first section, citus-api.md §2)."""

from __future__ import annotations

from citusadmin.citus import errors
from citusadmin.citus.capabilities import Capabilities
from citusadmin.citus.connection import Session

CREATE_EXTENSION = "CREATE EXTENSION IF NOT EXISTS citus"


def check_can_create(caps: Capabilities) -> None:
    """Explain, before sending anything, why CREATE EXTENSION would fail."""
    if not caps.citus_available:
        raise errors.CitusNotInstalled(
            "The citus package is not installed on the server (no citus.control in its extension "
            "directory). Install the Citus package for PostgreSQL "
            f"{caps.server_version} on the coordinator and every worker."
        )
    if not caps.is_superuser:
        raise errors.PermissionDenied(
            f"Only a superuser can create the citus extension; the role {caps.current_user!r} is not one."
        )
    if caps.citus_preloaded is False:
        raise errors.NotSupported(
            "citus is not in shared_preload_libraries. Add it (first in the list) to postgresql.conf "
            "and restart PostgreSQL, then create the extension."
        )


def create_extension(sess: Session) -> bool:
    """``CREATE EXTENSION IF NOT EXISTS citus``. Returns True if it was created now."""
    sess.execute(CREATE_EXTENSION)
    return not any("already exists" in notice for notice in sess.notices)
