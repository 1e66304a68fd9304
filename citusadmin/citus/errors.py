"""Typed errors for everything that can go wrong talking to a cluster.

Each error carries a message for the page (``user_message``), the SQLSTATE, and PostgreSQL's or
Citus's own primary message, detail and hint, shown verbatim: Citus's wording ("because it contains
the only shard placement for shard 102204") is what a DBA searches for.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import errors as pgerrors


class CitusError(Exception):
    """Base class. ``user_message`` is safe to render (it is escaped by templates like any text)."""

    default_message = "The cluster reported an error."
    kind = "error"

    def __init__(
        self,
        user_message: str | None = None,
        *,
        sqlstate: str | None = None,
        primary: str = "",
        detail: str = "",
        hint: str = "",
    ) -> None:
        self.user_message = user_message or self.default_message
        self.position: int | None = None  # where PostgreSQL marked the error in the statement (1-based)
        self.sqlstate = sqlstate
        self.primary = primary
        self.detail = detail
        self.hint = hint
        super().__init__(self.user_message)

    def page_text(self) -> str:
        """The message for a page: ours, then Citus's own words, detail and hint."""
        text = self.user_message
        if self.primary and self.primary not in text:
            text += f" — Citus said: {self.primary}"
        if self.detail:
            text += f" DETAIL: {self.detail}"
        if self.hint:
            text += f" HINT: {self.hint}"
        return text

    def as_text(self) -> str:
        """One line for the audit log: message, SQLSTATE and Citus's text."""
        parts = [self.user_message]
        if self.sqlstate:
            parts.append(f"[{self.sqlstate}]")
        if self.primary and self.primary not in self.user_message:
            parts.append(self.primary)
        if self.detail:
            parts.append(f"DETAIL: {self.detail}")
        if self.hint:
            parts.append(f"HINT: {self.hint}")
        return " ".join(parts)


class ConnectionFailed(CitusError):
    default_message = "Could not connect to the cluster."
    kind = "connection"


class ConnectionRefused(ConnectionFailed):
    default_message = "Connection refused: nothing is listening on that host and port."


class ConnectionTimeout(ConnectionFailed):
    default_message = "Connection timed out: the host did not answer in time."


class HostNotFound(ConnectionFailed):
    default_message = "The host name could not be resolved."


class AuthenticationFailed(ConnectionFailed):
    default_message = "Authentication failed: check the user, password, pgpass or service file."
    kind = "authentication"


class SslError(ConnectionFailed):
    default_message = "The SSL/TLS negotiation failed."
    kind = "ssl"


class ConnectionLost(ConnectionFailed):
    default_message = "The connection to the cluster was lost."


class WorkerUnreachable(CitusError):
    """08006 raised by the coordinator about another node (not our own connection)."""

    default_message = "The coordinator could not reach a node of the cluster."
    kind = "connection"


class QueryTimeout(CitusError):
    default_message = "The query was cancelled: it ran longer than the statement timeout, or it was cancelled."
    kind = "timeout"


class LockTimeout(CitusError):
    default_message = "Gave up waiting for a lock held by another session."
    kind = "timeout"


class NotFound(CitusError):
    default_message = "The object does not exist."
    kind = "not_found"


class AlreadyExists(CitusError):
    default_message = "The object already exists."
    kind = "exists"


class UniqueViolation(CitusError):
    default_message = "A row with the same key already exists (unique constraint on a shard)."
    kind = "unique"


class NotSupported(CitusError):
    default_message = "Citus does not support this operation on this object."
    kind = "not_supported"


class PermissionDenied(CitusError):
    default_message = "The database role used by citusadmin lacks the privilege for this operation."
    kind = "permission"


class InvalidInput(CitusError):
    default_message = "The cluster rejected a value as invalid."
    kind = "invalid"


class CitusInternal(CitusError):
    default_message = "Citus refused the operation."
    kind = "citus"


class CitusNotInstalled(CitusError):
    default_message = "The citus extension is not installed in this database."
    kind = "not_installed"


class NotCoordinator(CitusError):
    default_message = "This node is a Citus worker, not the coordinator: register the coordinator."
    kind = "not_coordinator"


class PoolExhausted(CitusError):
    default_message = "All connections to this cluster are busy; try again in a moment."
    kind = "busy"


# SQLSTATE -> (class, message for the page). Classes by two-character prefix come after.
_BY_SQLSTATE: dict[str, tuple[type[CitusError], str | None]] = {
    "08001": (ConnectionFailed, None),
    "08006": (WorkerUnreachable, None),
    "08003": (ConnectionLost, None),
    "57P01": (ConnectionLost, "The server is shutting down (administrator command)."),
    "57P02": (ConnectionLost, "The server crashed or was restarted."),
    "57P03": (ConnectionFailed, "The server is starting up or shutting down; try again."),
    "57014": (QueryTimeout, None),
    "55P03": (LockTimeout, None),
    "42P01": (NotFound, "The table or view does not exist."),
    "42704": (NotFound, "The object does not exist in the catalogs or in Citus metadata."),
    "42883": (NotFound, "The function does not exist with these arguments on this cluster."),
    "42703": (NotFound, "The column does not exist."),
    "P0002": (NotFound, None),
    "42710": (AlreadyExists, None),
    "42P07": (AlreadyExists, "A table with that name already exists."),
    "42P16": (InvalidInput, None),
    "23505": (UniqueViolation, None),
    "0A000": (NotSupported, None),
    "42501": (PermissionDenied, None),
    "28P01": (AuthenticationFailed, None),
    "28000": (AuthenticationFailed, None),
    "22023": (InvalidInput, None),
    "25001": (NotSupported, "This operation cannot run inside a transaction block."),
    "XX000": (CitusInternal, None),
}
_BY_CLASS: dict[str, type[CitusError]] = {
    "08": ConnectionFailed,
    "22": InvalidInput,
    "23": InvalidInput,
    "28": AuthenticationFailed,
    "42": InvalidInput,
    "53": CitusInternal,
    "57": QueryTimeout,
    "XX": CitusInternal,
}

# libpq reports connection failures without a SQLSTATE; classify them by their text.
_CONNECT_PATTERNS: list[tuple[re.Pattern[str], type[ConnectionFailed]]] = [
    (
        re.compile(
            r"password authentication failed|no password supplied|authentication failed|"
            r"no pg_hba\.conf entry|role .* does not exist",
            re.I,
        ),
        AuthenticationFailed,
    ),
    (re.compile(r"SSL|certificate|sslmode", re.I), SslError),
    (re.compile(r"Connection refused", re.I), ConnectionRefused),
    (re.compile(r"timeout expired|timed out", re.I), ConnectionTimeout),
    (re.compile(r"could not translate host name|Name or service not known|nodename nor servname", re.I), HostNotFound),
    (
        re.compile(r"server closed the connection|connection.*(lost|closed)|terminating connection", re.I),
        ConnectionLost,
    ),
]


def _diag(exc: psycopg.Error) -> tuple[str, str, str]:
    diag = exc.diag
    primary = diag.message_primary
    if not primary:
        lines = str(exc).strip().splitlines()
        primary = lines[0] if lines else ""
    return primary, diag.message_detail or "", diag.message_hint or ""


def translate(exc: BaseException, *, connecting: bool = False) -> CitusError:
    """Turn a psycopg exception into a typed :class:`CitusError` (with PostgreSQL's cursor position in
    the statement, 1-based, when it gave one)."""
    error = _translate(exc, connecting=connecting)
    if isinstance(exc, psycopg.Error) and error.position is None:
        position = exc.diag.statement_position
        text = str(position or "")
        # isdigit() alone admits "²", which int() refuses; PostgreSQL sends ASCII digits
        error.position = int(text) if text.isascii() and text.isdigit() else None
    return error


def _translate(exc: BaseException, *, connecting: bool = False) -> CitusError:
    if isinstance(exc, CitusError):
        return exc
    if not isinstance(exc, psycopg.Error):
        return CitusError(f"Unexpected error talking to the cluster: {type(exc).__name__}")
    sqlstate = exc.sqlstate
    primary, detail, hint = _diag(exc)
    text = str(exc).strip()
    if sqlstate is None:
        # Raised by libpq itself: the connection could not be made, or it broke.
        for pattern, cls in _CONNECT_PATTERNS:
            if pattern.search(text):
                first = text.splitlines()[0] if text else ""
                return cls(primary=_strip_libpq_prefix(first), detail="\n".join(text.splitlines()[1:]).strip())
        if connecting or isinstance(exc, psycopg.OperationalError):
            return ConnectionFailed(primary=_strip_libpq_prefix(text))
        return CitusError(primary=text)
    if sqlstate == "28P01" or sqlstate == "28000":
        return AuthenticationFailed(sqlstate=sqlstate, primary=primary, detail=detail, hint=hint)
    if sqlstate.startswith("08") and connecting:
        cls_c: type[ConnectionFailed] = ConnectionFailed
        for pattern, candidate in _CONNECT_PATTERNS:
            if pattern.search(primary):
                cls_c = candidate
                break
        return cls_c(sqlstate=sqlstate, primary=primary, detail=detail, hint=hint)
    if sqlstate == "57014" and "lock timeout" in primary:
        return LockTimeout(sqlstate=sqlstate, primary=primary, detail=detail, hint=hint)
    if isinstance(exc, pgerrors.QueryCanceled) and "statement timeout" in primary:
        return QueryTimeout(
            "The query ran longer than the statement timeout and was cancelled.",
            sqlstate=sqlstate,
            primary=primary,
            detail=detail,
            hint=hint,
        )
    found = _BY_SQLSTATE.get(sqlstate)
    if found is not None:
        mapped, message = found
        return mapped(message, sqlstate=sqlstate, primary=primary, detail=detail, hint=hint)
    by_class = _BY_CLASS.get(sqlstate[:2], CitusError)
    return by_class(sqlstate=sqlstate, primary=primary, detail=detail, hint=hint)


def _strip_libpq_prefix(text: str) -> str:
    # 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    return text.replace("connection failed: ", "", 1).strip()


class Refused(CitusError):
    """The console declined before sending anything (a safety check); the message says why."""

    default_message = "Refused by a safety check."
    kind = "refused"
