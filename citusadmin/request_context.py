"""Who and where a change comes from, available to actions without threading it through calls."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    source: str  # 'web', 'api', 'job', 'cli', 'system'
    client_ip: str | None = None
    request_id: str = ""
    api_token: str = ""  # the API token's name and prefix, for the audit trail


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "citusadmin_request_context",
    default=RequestContext(source="system"),  # noqa: B039 (frozen dataclass)
)


def current() -> RequestContext:
    return _current.get()


def set_current(ctx: RequestContext) -> contextvars.Token[RequestContext]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext]) -> None:
    _current.reset(token)
