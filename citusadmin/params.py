"""The one way views read loose query-string and form values that are not a Django form.

``str.isdigit()`` accepts ``"²"`` and ``"٣"``, which ``int()`` then refuses or turns into something
unexpected; a 25-digit id overflows the database's bigint. These helpers accept plain ASCII digits
within the range the database stores, and otherwise return the default: a malformed parameter is
treated as absent, never a 500.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme

BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(
    raw: str | None, default: int | None = None, *, minimum: int = 0, maximum: int = BIGINT_MAX
) -> int | None:
    """``raw`` as an int when it is ASCII digits within [minimum, maximum]; else ``default``."""
    if raw is None:
        return default
    text = raw.strip()
    if not _DIGITS.fullmatch(text):
        return default
    value = int(text)
    return value if minimum <= value <= maximum else default


def int_param(
    data: QueryDict, name: str, default: int | None = None, *, minimum: int = 0, maximum: int = BIGINT_MAX
) -> int | None:
    return parse_int(data.get(name), default, minimum=minimum, maximum=maximum)


def int_list(raw: str, *, maximum: int = BIGINT_MAX) -> list[int] | None:
    """A comma-separated list of ids; None when any item is not one (the caller shows a form error)."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    values = [parse_int(p, maximum=maximum) for p in parts]
    if any(v is None for v in values):
        return None
    return [v for v in values if v is not None]


def choice_param(data: QueryDict, name: str, choices: tuple[str, ...] | list[str], default: str) -> str:
    value = data.get(name, default)
    return value if value in choices else default


def safe_next(request: HttpRequest, default: str) -> str:
    """A ``next`` target only when it is a path on this site (no scheme, no other host, no javascript:)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
