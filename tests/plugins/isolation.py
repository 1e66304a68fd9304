"""What keeps tests apart: the test database set-up, a fresh audit checkpoint file, shared figures and the worker banner per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """Transactional tests empty every table with TRUNCATE between tests; on PostgreSQL the audit
    table refuses TRUNCATE (migration audit 0002), so the test database lifts that one guard.
    Row-level UPDATE/DELETE refusal stays on and is tested."""
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_auditentry_no_truncate")


@pytest.fixture(autouse=True)
def _audit_checkpoint_file(tmp_path: Path, settings: Any) -> None:
    """Each test's audit checkpoints in a file of its own: tables are emptied between tests, and a
    checkpoint left by an earlier test would (rightly) read as a deleted tail."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.log"


@pytest.fixture(autouse=True)
def _fresh_shared_figures() -> None:
    """Monitoring figures are shared between requests (monitoring.shared); not between tests."""
    from django.core.cache import caches

    caches["shared"].clear()


@pytest.fixture(autouse=True)
def _steady_worker_banner() -> None:
    """The banner's worker status is cached 5 s per process; a test that compares query counts must not
    see it expire between two requests. Pinned to "no worker seen" (the truth for most tests); tests
    about workers and banners clear the cache and read the real heartbeats."""
    from django.conf import settings as django_settings
    from django.core.cache import cache

    from jobs.heartbeat import _CACHE_KEY, WorkerStatus

    cache.set(_CACHE_KEY, WorkerStatus(None, None, django_settings.WORKER_STALE_SECONDS), 3600)
