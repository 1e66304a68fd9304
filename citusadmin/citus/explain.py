"""How Citus will run one query: the statement checked with PostgreSQL's own parser, then EXPLAIN.

``check`` parses the text with pglast (libpg_query: PostgreSQL's parser) and refuses anything but one
SELECT / INSERT / UPDATE / DELETE / VALUES; for EXPLAIN ANALYZE (which runs the query) only a plain
SELECT: no data-changing CTE, no SELECT INTO, no locking clause, and no call of a volatile function
(it could change data; the catalog says which are volatile). Both run inside a READ ONLY
transaction that is always rolled back, with a statement timeout.

The user's text is sent inside EXPLAIN after that check: it is the one place the console sends SQL it
did not compose, and the reason the check is strict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pglast
from pglast import ast as pg_ast
from pglast.visitors import Visitor
from psycopg import sql

from citusadmin.citus import errors
from citusadmin.citus.connection import ClusterTarget, Session, direct_session

MAX_QUERY_CHARS = 20_000
MAX_PLAN_BYTES = 2_000_000

_EXPLAINABLE = (pg_ast.SelectStmt, pg_ast.InsertStmt, pg_ast.UpdateStmt, pg_ast.DeleteStmt)
_MODIFYING = (pg_ast.InsertStmt, pg_ast.UpdateStmt, pg_ast.DeleteStmt, pg_ast.MergeStmt)


class Rejected(errors.Refused):
    """The text is not something the workbench runs; ``position`` (1-based) marks where, if known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position  # after CitusError's own initialisation


@dataclass(frozen=True)
class Checked:
    text: str  # the statement as given, without a trailing semicolon
    kind: str  # select, insert, update, delete
    tables: list[str]  # relation names as written (schema.name or name)
    functions: list[str]  # function names called (schema-qualified when written so)
    tree: Any = field(repr=False, compare=False, default=None)


class _Collect(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.functions: list[str] = []
        self.modifying: list[str] = []
        self.locking = False
        self.into = False

    def visit_RangeVar(self, ancestors: Any, node: pg_ast.RangeVar) -> None:
        name = f"{node.schemaname}.{node.relname}" if node.schemaname else str(node.relname)
        if name not in self.tables:
            self.tables.append(name)

    def visit_FuncCall(self, ancestors: Any, node: pg_ast.FuncCall) -> None:
        name = ".".join(part.sval for part in node.funcname or ())
        if name not in self.functions:
            self.functions.append(name)

    def visit_CommonTableExpr(self, ancestors: Any, node: pg_ast.CommonTableExpr) -> None:
        if isinstance(node.ctequery, _MODIFYING):
            self.modifying.append(str(node.ctename))

    def visit_LockingClause(self, ancestors: Any, node: pg_ast.LockingClause) -> None:
        self.locking = True

    def visit_IntoClause(self, ancestors: Any, node: pg_ast.IntoClause) -> None:
        self.into = True


def check(text: str, *, analyze: bool) -> Checked:
    """Raise :class:`Rejected` unless ``text`` is one statement the workbench may explain (or run)."""
    text = (text or "").strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise Rejected("Paste a query to explain.")
    if len(text) > MAX_QUERY_CHARS:
        raise Rejected(f"The query is longer than {MAX_QUERY_CHARS:,} characters.")
    if "\x00" in text:
        raise Rejected("The query contains a NUL character.")
    try:
        statements = pglast.parse_sql(text)
    except pglast.parser.ParseError as exc:
        location = getattr(exc, "location", None)
        if location is None and len(exc.args) > 1 and isinstance(exc.args[1], int):
            location = exc.args[1]
        message = f"Syntax error: {exc.args[0] if exc.args else exc}"
        raise Rejected(message, location) from None  # libpg_query counts from 1, as PostgreSQL does
    if len(statements) != 1:
        raise Rejected(f"One statement at a time: this text holds {len(statements)}.")
    stmt = statements[0].stmt
    if isinstance(stmt, pg_ast.ExplainStmt):
        raise Rejected("Paste the query itself, without EXPLAIN: the workbench adds it.")
    if not isinstance(stmt, _EXPLAINABLE):
        raise Rejected(f"Only SELECT, INSERT, UPDATE and DELETE can be explained; this is {type(stmt).__name__}.")
    found = _Collect()
    found(statements)
    kind = {pg_ast.SelectStmt: "select", pg_ast.InsertStmt: "insert", pg_ast.UpdateStmt: "update"}.get(
        type(stmt), "delete"
    )
    if analyze:
        if kind != "select":
            raise Rejected(f"EXPLAIN ANALYZE runs the query: only a SELECT may run here, not an {kind.upper()}.")
        if found.modifying:
            raise Rejected(
                f"EXPLAIN ANALYZE runs the query, and the WITH clause {', '.join(found.modifying)} "
                "changes data: refused."
            )
        if found.into:
            raise Rejected("SELECT INTO creates a table: EXPLAIN ANALYZE would run it. Refused.")
        if found.locking:
            raise Rejected("FOR UPDATE / FOR SHARE takes row locks: EXPLAIN ANALYZE would take them. Refused.")
    return Checked(text, kind, found.tables, found.functions, statements)


def volatile_functions(sess: Session, names: list[str]) -> list[str]:
    """Of the functions a query calls, those PostgreSQL marks volatile (they may change data)."""
    if not names:
        return []
    bare = [n.rpartition(".")[2].lower() for n in names]
    rows = sess.fetch_all(
        "SELECT DISTINCT p.proname::text AS name FROM pg_proc p WHERE p.proname = ANY(%s) AND p.provolatile = 'v'"
        " AND p.proname NOT IN ('random', 'clock_timestamp', 'timeofday', 'gen_random_uuid')",
        (bare,),
        row=_Name,
    )
    return sorted(r.name for r in rows)


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class TableFacts:
    """What the planner advice needs of each table a query names (one catalog statement)."""

    name: str  # as written in the query
    relid: int | None
    qualified: str | None
    kind: str  # distributed, reference, citus_local, schema, single_shard, local, missing
    distribution_column: str | None
    colocation_id: int | None
    shard_count: int
    estimated_rows: int


_TABLE_FACTS = """
SELECT q.name, c.oid::bigint AS relid, c.oid::regclass::text AS qualified,
       CASE WHEN c.oid IS NULL THEN 'missing'
            WHEN p.logicalrelid IS NULL THEN 'local'
            WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
            WHEN p.partmethod = 'n' AND p.colocationid = 0 THEN 'citus_local'
            WHEN p.partmethod = 'n' THEN 'single_shard'
            WHEN p.partmethod = 'h' THEN 'distributed'
            ELSE 'other' END AS kind,
       CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS distribution_column,
       NULLIF(p.colocationid, 0) AS colocation_id,
       COALESCE((SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = c.oid), 0)::int AS shard_count,
       GREATEST(COALESCE(c.reltuples, 0), 0)::bigint AS estimated_rows
  FROM unnest(%s::text[]) AS q(name)
  LEFT JOIN pg_class c ON c.oid = to_regclass(q.name)
  LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
"""


def table_facts(sess: Session, names: list[str]) -> list[TableFacts]:
    if not names:
        return []
    return sess.fetch_all(_TABLE_FACTS, (names,), row=TableFacts)


@dataclass(frozen=True)
class Explained:
    plan: list[dict[str, Any]]  # EXPLAIN's JSON
    analyzed: bool
    statement: str  # exactly what was sent
    notices: list[str]
    # citus.enable_repartition_joins as the cluster has it (the plan is made with it on, to show one)
    repartition_joins_enabled: bool = True


def explain(
    target: ClusterTarget, checked: Checked, *, analyze: bool, timeout_ms: int, application_name: str
) -> tuple[Explained, list[TableFacts], list[str]]:
    """EXPLAIN (or EXPLAIN ANALYZE, read-only and rolled back) on a dedicated connection; with the
    facts about the tables it names and, for ANALYZE, the volatile functions it would call (refused)."""
    options = "ANALYZE, VERBOSE, BUFFERS, FORMAT JSON" if analyze else "VERBOSE, FORMAT JSON"
    statement = sql.SQL("EXPLAIN ({}) {}").format(sql.SQL(options), sql.SQL(checked.text))
    prefix = len(f"EXPLAIN ({options}) ")
    with direct_session(target, application_name=application_name, statement_timeout_ms=timeout_ms) as sess:
        facts = table_facts(sess, checked.tables)
        volatile = volatile_functions(sess, checked.functions) if analyze else []
        if volatile:
            raise Rejected(
                f"EXPLAIN ANALYZE runs the query, and it calls {', '.join(volatile)}, which PostgreSQL marks "
                "volatile (it may change data): refused. Plain EXPLAIN shows the plan without running it."
            )
        text = sess.render(statement)
        try:
            # read-only and rolled back whatever happens, plain EXPLAIN too (defence in depth)
            with sess.conn.transaction(force_rollback=True):
                sess.execute("SET TRANSACTION READ ONLY")
                enabled = sess.scalar(
                    "SELECT current_setting('citus.enable_repartition_joins', true), "
                    "set_config('citus.enable_repartition_joins', 'on', true)"
                )
                if analyze:
                    sess.execute("SELECT set_config('citus.explain_all_tasks', 'on', true)")
                raw = sess.scalar(statement)
        except errors.CitusError as exc:
            if exc.position is not None:
                exc.position = max(1, exc.position - prefix)
            raise
        plan = raw if isinstance(raw, list) else json.loads(raw)
        if len(json.dumps(plan)) > MAX_PLAN_BYTES:
            raise Rejected(f"The plan is larger than {MAX_PLAN_BYTES // 1_000_000} MB; explain a smaller query.")
        explained = Explained(plan, analyze, text, list(sess.notices), enabled in ("on", "true", None))
        return explained, facts, volatile
