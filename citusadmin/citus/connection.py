"""Connections to a cluster's coordinator: a small pool per cluster, sessions, query accounting.

Every session sets ``application_name``, ``statement_timeout``, ``lock_timeout``, a short
``citus.node_connection_timeout`` (so a hung worker costs seconds, not 30 s) and
``client_connection_check_interval`` (so a backend whose client died stops within a second).
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString, TypeVar

import psycopg
from django.conf import settings
from psycopg import sql
from psycopg.rows import class_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from citusadmin.citus import errors

T = TypeVar("T")
Query = LiteralString | sql.SQL | sql.Composed

WEB_APPLICATION_NAME = "citusadmin/web"


@dataclass(frozen=True)
class ClusterTarget:
    """Where and how to connect: libpq keywords, with the password kept out of every repr.

    ``key`` changes whenever the connection settings change, so an edited cluster gets a new pool.
    """

    key: str
    label: str
    params: tuple[tuple[str, str], ...] = field(repr=False)

    @classmethod
    def from_params(cls, label: str, key: str | None = None, **params: Any) -> ClusterTarget:
        items = tuple(sorted((k, str(v)) for k, v in params.items() if v not in (None, "")))
        return cls(key=key or f"adhoc:{hash(items)}", label=label, params=items)

    def kwargs(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def address(self) -> str:
        params = self.kwargs()
        if "service" in params and "host" not in params:
            return f"service={params['service']}"
        return f"{params.get('host', 'localhost')}:{params.get('port', '5432')}"


# --- accounting ---------------------------------------------------------------------------------


class QueryCounter:
    """Counts statements sent to clusters while active (tests assert page budgets with it)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


_counters: list[QueryCounter] = []
_counters_lock = threading.Lock()
# Statements sent while an audited action runs, for the audit entry's "SQL sent".
_sql_capture: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sql_capture", default=None)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    counter = QueryCounter()
    with _counters_lock:
        _counters.append(counter)
    try:
        yield counter
    finally:
        with _counters_lock:
            _counters.remove(counter)


@contextmanager
def capture_sql() -> Iterator[list[str]]:
    captured: list[str] = []
    token = _sql_capture.set(captured)
    try:
        yield captured
    finally:
        _sql_capture.reset(token)


def _account(text: str) -> None:
    with _counters_lock:
        for counter in _counters:
            counter.statements.append(text)
    captured = _sql_capture.get()
    if captured is not None:
        captured.append(text)


# --- sessions -----------------------------------------------------------------------------------


class Session:
    """A connection lent to gateway functions. Views and tasks never touch it directly."""

    def __init__(self, conn: psycopg.Connection[Any], target: ClusterTarget) -> None:
        self.conn = conn
        self.target = target
        self.notices: list[str] = []

    def render(self, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None) -> str:
        """The statement as PostgreSQL receives it, values inlined and quoted (for the audit trail)."""
        text = query.as_string(self.conn) if isinstance(query, sql.Composable) else str(query)
        if params is None:
            return text
        try:
            return psycopg.ClientCursor(self.conn).mogrify(query, params)
        except (psycopg.Error, TypeError, ValueError):
            return f"{text} -- params: {_shorten(params)}"

    def _run(self, cur: psycopg.Cursor[Any], query: Query, params: Sequence[Any] | Mapping[str, Any] | None) -> None:
        _account(self.render(query, params))
        try:
            cur.execute(query, params)
        except psycopg.Error as exc:
            raise errors.translate(exc) from exc

    def fetch_all(
        self, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None, *, row: type[T]
    ) -> list[T]:
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            self._run(cur, query, params)
            return cur.fetchall()

    def fetch_one(
        self, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None, *, row: type[T]
    ) -> T | None:
        with self.conn.cursor(row_factory=class_row(row)) as cur:
            self._run(cur, query, params)
            return cur.fetchone()

    def scalar(self, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        with self.conn.cursor(row_factory=tuple_row) as cur:
            self._run(cur, query, params)
            found = cur.fetchone()
            return None if found is None else found[0]

    def execute(self, query: Query, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        with self.conn.cursor() as cur:
            self._run(cur, query, params)

    @contextmanager
    def statement_timeout(self, milliseconds: int) -> Iterator[None]:
        """Run the block with another statement timeout, then restore the previous one."""
        previous = self.scalar("SELECT set_config('statement_timeout', %s, false)", (f"{milliseconds}ms",))
        try:
            yield
        finally:
            if not self.conn.closed:
                self.scalar("SELECT set_config('statement_timeout', %s, false)", (previous,))

    @property
    def backend_pid(self) -> int:
        return int(self.conn.info.backend_pid)


def _shorten(params: Sequence[Any] | Mapping[str, Any]) -> str:
    text = repr(params)
    return text if len(text) <= 500 else text[:497] + "..."


def _session_settings() -> list[tuple[str, str]]:
    return [
        ("statement_timeout", str(settings.CITUS_STATEMENT_TIMEOUT_MS)),
        ("lock_timeout", str(settings.CITUS_LOCK_TIMEOUT_MS)),
        ("citus.node_connection_timeout", str(settings.CITUS_NODE_CONNECTION_TIMEOUT_MS)),
        ("client_connection_check_interval", "1000"),
    ]


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Apply the session settings in one round trip (not counted as a page query)."""
    pairs = _session_settings()
    if conn.info.server_version < 140000:  # client_connection_check_interval is PostgreSQL 14+
        pairs = [p for p in pairs if p[0] != "client_connection_check_interval"]
    query = sql.SQL("SELECT {}").format(
        sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, false)").format(sql.Literal(k), sql.Literal(v)) for k, v in pairs
        )
    )
    conn.execute(query)


def _connect_kwargs(target: ClusterTarget, application_name: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = target.kwargs()
    kwargs.setdefault("connect_timeout", str(settings.CITUS_CONNECT_TIMEOUT_S))
    kwargs["application_name"] = application_name
    kwargs["autocommit"] = True
    return kwargs


_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


def _pool(target: ClusterTarget) -> ConnectionPool:
    with _pools_lock:
        pool = _pools.get(target.key)
        if pool is None:
            pool = ConnectionPool(
                kwargs=_connect_kwargs(target, WEB_APPLICATION_NAME),
                min_size=0,
                max_size=settings.CITUS_POOL_MAX_SIZE,
                open=True,
                configure=_configure,
                check=ConnectionPool.check_connection,
                timeout=settings.CITUS_CONNECT_TIMEOUT_S + 1,
                max_idle=300,
                reconnect_timeout=settings.CITUS_CONNECT_TIMEOUT_S * 2,
                name=f"citus-{target.key}",
            )
            _pools[target.key] = pool
        return pool


def close_pools(prefix: str = "") -> None:
    """Close the pools of clusters whose key starts with ``prefix`` (all when empty)."""
    with _pools_lock:
        for key in [k for k in _pools if k.startswith(prefix)]:
            _pools.pop(key).close(timeout=2)


def _diagnose(target: ClusterTarget) -> errors.CitusError:
    """The pool only says 'timeout'; one direct attempt finds the real reason."""
    try:
        conn = psycopg.connect(**_connect_kwargs(target, WEB_APPLICATION_NAME))
    except psycopg.Error as exc:
        return errors.translate(exc, connecting=True)
    conn.close()
    return errors.PoolExhausted()


def _probe(target: ClusterTarget) -> None:
    try:
        psycopg.connect(**_connect_kwargs(target, WEB_APPLICATION_NAME)).close()
    except psycopg.Error as exc:
        raise errors.translate(exc, connecting=True) from None


def _attach_notices(conn: psycopg.Connection[Any], sess: Session) -> Any:
    def handler(diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary:
            sess.notices.append(f"{diag.severity}: {diag.message_primary}")

    conn.add_notice_handler(handler)
    return handler


@contextmanager
def session(target: ClusterTarget) -> Iterator[Session]:
    """A pooled session on the coordinator for page requests and short task steps."""
    pool = _pool(target)
    if pool.get_stats().get("pool_size", 0) == 0:
        # Cold pool (first use, or idle for max_idle): one direct attempt says at once why a coordinator
        # that is down cannot be reached, instead of waiting out the pool's timeout.
        _probe(target)
    try:
        with pool.connection() as conn:
            sess = Session(conn, target)
            handler = _attach_notices(conn, sess)
            try:
                yield sess
            finally:
                conn.remove_notice_handler(handler)
    except PoolTimeout:
        raise _diagnose(target) from None
    except psycopg.Error as exc:
        raise errors.translate(exc) from exc


@contextmanager
def direct_session(
    target: ClusterTarget, *, application_name: str, statement_timeout_ms: int | None = None
) -> Iterator[Session]:
    """A dedicated, unpooled connection: connection tests and job supervisors (tagged per job)."""
    started = time.monotonic()
    try:
        conn = psycopg.connect(**_connect_kwargs(target, application_name))
    except psycopg.Error as exc:
        raise errors.translate(exc, connecting=True) from exc
    try:
        try:
            _configure(conn)
            if statement_timeout_ms is not None:
                conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(statement_timeout_ms),))
        except psycopg.Error as exc:
            raise errors.translate(exc) from exc
        sess = Session(conn, target)
        _attach_notices(conn, sess)
        sess.connect_ms = int((time.monotonic() - started) * 1000)  # type: ignore[attr-defined]
        yield sess
    finally:
        conn.close()
