"""Keyset pagination: pages by ``id < before``, so the cost is flat however long the list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from citusadmin.params import parse_int


def keyset_page(queryset: QuerySet[Any], before: str, size: int) -> tuple[list[Any], int | None]:
    """One page newest first, and the id to pass as ``before`` for the next page (None at the end)."""
    before_id = parse_int(before)
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    page = list(queryset.order_by("-id")[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, page[-1].pk if more and page else None
