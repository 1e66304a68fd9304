"""Which audit entries a query string asks for: the Audit page, its exports and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from audit.models import AuditEntry
from citusadmin.params import parse_int

FILTERS = ("since", "until", "actor", "cluster", "action", "target", "outcome", "q", "job")


def _when(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value if "T" in value or " " in value else value + "T00:00:00")
    except ValueError:  # well-formed but impossible, e.g. 2026-13-45: ignore the filter
        return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # the page says: times in UTC
    return parsed


def filtered(request: Any) -> tuple[QuerySet[AuditEntry], dict[str, str]]:
    """The entries matching the query string; every filter has an index (see AuditEntry.Meta)."""
    values = {k: request.GET.get(k, "").strip() for k in FILTERS}
    entries = AuditEntry.objects.all()
    if since := _when(values["since"]):
        entries = entries.filter(created_at__gte=since)
    if until := _when(values["until"]):
        entries = entries.filter(created_at__lt=until)
    if values["actor"]:
        entries = entries.filter(actor_name=values["actor"])
    if values["cluster"]:
        entries = entries.filter(cluster_name=values["cluster"])
    if values["action"]:
        entries = entries.filter(action__startswith=values["action"])
    if values["target"]:
        entries = entries.filter(target=values["target"])
    if values["outcome"] in AuditEntry.Outcome.values:
        entries = entries.filter(outcome=values["outcome"])
    if (job_id := parse_int(values["job"])) is not None:
        entries = entries.filter(job_id=job_id)
    if values["q"]:
        q = values["q"]
        entries = entries.filter(Q(target__icontains=q) | Q(error__icontains=q) | Q(action__icontains=q))
    return entries, values
