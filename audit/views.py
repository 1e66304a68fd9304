"""Audit list for Auditors and Admins (the full review page is a later issue)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditEntry
from citusadmin.pagination import keyset_page

PAGE_SIZE = 50


@require_GET
@permission_required("audit.view_audit", raise_exception=True)
def entry_list(request: HttpRequest) -> HttpResponse:
    """Newest first, paginated by key (``?before=<id>``), so the cost is flat however long the log."""
    entries = AuditEntry.objects.order_by("-id")
    outcome = request.GET.get("outcome", "")
    if outcome in AuditEntry.Outcome.values:
        entries = entries.filter(outcome=outcome)
    job = request.GET.get("job", "")
    if job.isdigit():
        entries = entries.filter(job_id=int(job))
    page, next_before = keyset_page(entries, request.GET.get("before", ""), PAGE_SIZE)
    return render(
        request,
        "audit/list.html",
        {
            "entries": page,
            "next_before": next_before,
            "outcome": outcome,
            "job": job if job.isdigit() else "",
            "outcomes": AuditEntry.Outcome.choices,
        },
    )
