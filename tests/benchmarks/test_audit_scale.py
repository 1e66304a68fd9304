"""Audit list and export with a million entries (on request: ./test -m benchmark tests/benchmarks -s)."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry

pytestmark = pytest.mark.benchmark


def test_a_million_entries(client, auditor):
    started = time.monotonic()
    batch = [
        AuditEntry(action=f"bulk.{i % 50}", outcome="succeeded", source="system", actor_name=f"u{i % 20}")
        for i in range(50_000)
    ]
    for _ in range(20):
        AuditEntry.objects.bulk_create(batch, batch_size=10_000)
        for entry in batch:
            entry.pk = None
    print(f"\n1,000,000 entries written in {time.monotonic() - started:.0f} s")
    client.force_login(auditor)
    for url in ("/audit/", "/audit/?actor=u7", "/audit/?action=bulk.3&outcome=succeeded", "/audit/?before=500000"):
        client.get(url)
        t = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        print(f"{url:45} queries={len(queries)} {(time.monotonic() - t) * 1000:.0f} ms")
        assert len(queries) <= 8
