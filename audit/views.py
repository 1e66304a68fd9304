"""Audit review for Auditors and Admins: filter, page by key, open an entry, export, verify."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from audit import sql_display
from audit.chain import verify
from audit.models import AuditEntry
from audit.reads import filtered
from citusadmin.pagination import keyset_page
from citusadmin.permissions import require_perm
from citusadmin.perms import Perm

PAGE_SIZE = 50
EXPORT_FIELDS = (
    "id",
    "created_at",
    "actor_name",
    "source",
    "client_ip",
    "request_id",
    "cluster_name",
    "action",
    "target",
    "outcome",
    "error",
    "sqlstate",
    "duration_ms",
    "job_id",
    "parameters",
    "sql",
    "hash",
)


@require_GET
@require_perm(Perm.VIEW_AUDIT)
def entry_list(request: HttpRequest) -> HttpResponse:
    """Newest first, paginated by key (``?before=<id>``), so the cost is flat however long the log."""
    entries, values = filtered(request)
    page, next_before = keyset_page(entries, request.GET.get("before", ""), PAGE_SIZE)
    query = urlencode({k: v for k, v in values.items() if v})  # the export holds exactly these filters
    return render(
        request,
        "audit/list.html",
        {
            "entries": page,
            "next_before": next_before,
            "filters": values,
            "outcomes": AuditEntry.Outcome.choices,
            "query": query,
            "job": values["job"],
            "outcome": values["outcome"],
        },
    )


@require_GET
@require_perm(Perm.VIEW_AUDIT)
def entry_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = get_object_or_404(AuditEntry, pk=entry_id)
    return render(
        request,
        "audit/detail.html",
        {
            "entry": entry,
            "parameters": json.dumps(entry.parameters, indent=2, sort_keys=True, default=str),
            "sql": sql_display.split(entry.sql),
        },
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)``) gets a leading quote
    (OWASP's advice for CSV injection); numbers and other cells are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _export_rows(entries: QuerySet[AuditEntry]) -> Iterator[dict[str, Any]]:
    for e in entries.order_by("id").iterator(chunk_size=2000):
        yield {
            "id": e.pk,
            "created_at": e.created_at.isoformat(),
            "actor_name": e.actor_name,
            "source": e.source,
            "client_ip": e.client_ip or "",
            "request_id": e.request_id,
            "cluster_name": e.cluster_name,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome,
            "error": e.error,
            "sqlstate": e.sqlstate,
            "duration_ms": e.duration_ms,
            "job_id": e.job_id,
            "parameters": json.dumps(e.parameters, sort_keys=True, default=str),
            "sql": e.sql,
            "hash": e.hash,
        }


@require_GET
@require_perm(Perm.VIEW_AUDIT)
def export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """CSV or JSON of the filtered entries, streamed (constant memory for a million entries). UTC times."""
    entries, _ = filtered(request)
    if fmt == "csv":
        writer = csv.DictWriter(_Echo(), fieldnames=EXPORT_FIELDS)

        def csv_lines() -> Iterator[str]:
            yield "\ufeff" + writer.writeheader()  # BOM: spreadsheets read UTF-8
            for row in _export_rows(entries):
                yield writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})

        response = StreamingHttpResponse(csv_lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="citusadmin-audit-utc.csv"'
        return response

    def json_chunks() -> Iterator[str]:
        yield '{"timezone": "UTC", "entries": ['
        first = True
        for row in _export_rows(entries):
            yield ("" if first else ",") + json.dumps(row)
            first = False
        yield "]}"

    response = StreamingHttpResponse(json_chunks(), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="citusadmin-audit-utc.json"'
    return response


@require_GET
@require_perm(Perm.VIEW_AUDIT)
def verify_chain(request: HttpRequest) -> HttpResponse:
    """Checks the hash chain (reads only; a GET)."""
    return render(request, "audit/verify.html", {"result": verify()})
