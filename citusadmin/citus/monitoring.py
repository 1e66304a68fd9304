"""Monitoring views of real Citus (citus-api.md §8): what each needs, and one statement per page.

The contract's ``citus_worker_stat_activity`` does not exist (11.0+): distributed activity comes from
``citus_dist_stat_activity`` / ``citus_stat_activity``, which collect ``pg_stat_activity`` from every
node in one call. Fan-out statements run inside ``fanout()``: a short statement timeout and a shorter
node connection timeout, so a hung worker costs about a second and is named from Citus's warning
("Error on node with node id N") instead of stalling the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from psycopg import sql

from citusadmin.citus.connection import Session

VIEWS = (
    "citus_stat_statements",
    "citus_stat_activity",
    "citus_dist_stat_activity",
    "citus_lock_waits",
    "citus_stat_tenants",
    "pg_dist_cleanup",
    "pg_dist_background_task",
)


@dataclass(frozen=True)
class Prerequisites:
    measured_at: datetime
    preload: str
    pgss_created: bool
    statements_track: str | None
    tenants_track: str | None
    compute_query_id: str | None
    relations: list[str]
    superuser: bool
    pg_monitor: bool
    # the function behind citus_lock_waits: citus_internal.global_blocked_processes() (13.x) or
    # citus_internal_global_blocked_processes() (12.x); None when neither exists
    blocked_processes: str | None = None

    def has(self, view: str) -> bool:
        return view in self.relations

    @property
    def statements_missing(self) -> list[str]:
        """What ``citus_stat_statements`` lacks here, each with how to enable it (empty: ready)."""
        if not self.has("citus_stat_statements"):
            return ["This Citus version has no citus_stat_statements view."]
        missing = []
        libraries = [lib.strip() for lib in self.preload.split(",")]
        if "pg_stat_statements" not in libraries:
            missing.append(
                "pg_stat_statements is not in shared_preload_libraries. Add it after citus "
                f"(shared_preload_libraries = '{', '.join([*filter(None, libraries), 'pg_stat_statements'])}') "
                "on the coordinator and restart it."
            )
        if not self.pgss_created:
            missing.append("The pg_stat_statements extension is not created: run CREATE EXTENSION pg_stat_statements;")
        if self.statements_track != "all":
            missing.append(
                f"citus.stat_statements_track is {self.statements_track or 'unset'!r}: set it to 'all' in "
                "postgresql.conf (ALTER SYSTEM SET citus.stat_statements_track = 'all'; SELECT pg_reload_conf();)."
            )
        return missing

    @property
    def tenants_missing(self) -> list[str]:
        if not self.has("citus_stat_tenants"):
            return ["This Citus version has no citus_stat_tenants view (added in 11.3)."]
        missing = []
        if self.tenants_track != "all":
            missing.append(
                f"citus.stat_tenants_track is {self.tenants_track or 'unset'!r} on the coordinator. Tenants are "
                "counted on the nodes that run the shard queries: on every node run ALTER SYSTEM SET "
                "citus.stat_tenants_track = 'all'; SELECT pg_reload_conf();"
            )
        if not (self.superuser or self.pg_monitor):
            missing.append("The console's database user needs pg_monitor: GRANT pg_monitor TO <user>;")
        return missing


_PREREQUISITES = sql.SQL(
    """
SELECT now() AS measured_at,
       current_setting('shared_preload_libraries') AS preload,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS pgss_created,
       current_setting('citus.stat_statements_track', true) AS statements_track,
       current_setting('citus.stat_tenants_track', true) AS tenants_track,
       current_setting('compute_query_id', true) AS compute_query_id,
       ARRAY(SELECT c.relname::text FROM pg_class c
              WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY({views})) AS relations,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_monitor', 'member') AS pg_monitor,
       COALESCE(to_regprocedure('citus_internal.global_blocked_processes()')::text,
                to_regprocedure('pg_catalog.citus_internal_global_blocked_processes()')::text) AS blocked_processes
"""
).format(views=sql.Literal(list(VIEWS)))


def prerequisites(sess: Session) -> Prerequisites:
    row = sess.fetch_one(_PREREQUISITES, row=Prerequisites)
    assert row is not None
    return row


@contextmanager
def fanout(sess: Session) -> Iterator[list[int | str]]:
    """Short timeouts for one statement that reaches every node; yields the nodes Citus could not reach
    (filled from its warnings after the statement): node ids ("node with node id 3", from
    run_command_on_all_nodes), or host:port ("connection to the remote node user@host:port failed",
    from the wait-graph functions)."""
    statement_ms = settings.MONITORING_STATEMENT_TIMEOUT_MS
    node_ms = settings.MONITORING_NODE_TIMEOUT_MS
    sess.execute(
        "SELECT set_config('statement_timeout', %s, false), set_config('citus.node_connection_timeout', %s, false)",
        (str(statement_ms), str(node_ms)),
    )
    missing: list[int | str] = []
    first_notice = len(sess.notices)
    try:
        yield missing
    finally:
        for notice in sess.notices[first_notice:]:
            by_id = re.search(r"node with node id (\d+)", notice)
            by_address = re.search(r"remote node (?:[^@\s]+@)?([^\s:@]+:\d+)", notice)
            node: int | str | None = int(by_id.group(1)) if by_id else (by_address.group(1) if by_address else None)
            if node is not None and node not in missing:
                missing.append(node)
        sess.execute(
            "SELECT set_config('statement_timeout', %s, false), set_config('citus.node_connection_timeout', %s, false)",
            (str(settings.CITUS_STATEMENT_TIMEOUT_MS), str(settings.CITUS_NODE_CONNECTION_TIMEOUT_MS)),
        )


# --- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    queryid: int
    query: str
    executor: str
    calls: int
    keyed_calls: int  # calls that carried a distribution-key value (single shard)
    keys: int
    sample_key: str | None
    total_ms: float | None
    mean_ms: float | None
    rows: int | None
    distributed: bool  # names a hash-distributed table

    @property
    def routing(self) -> str:
        if self.calls and self.keyed_calls == self.calls:
            return "router"
        if self.keyed_calls:
            return "mixed"
        return "multi-shard" if self.distributed else "no key"

    @property
    def needs_key(self) -> bool:
        """Touches every shard without a distribution-column filter (the contract's advice applies)."""
        return self.keyed_calls == 0 and self.distributed


_STATEMENTS = """
WITH c AS (
  SELECT queryid, userid, dbid, query, executor, sum(calls)::bigint AS calls,
         sum(calls) FILTER (WHERE partition_key IS NOT NULL)::bigint AS keyed_calls,
         count(DISTINCT partition_key) AS keys, min(partition_key) AS sample_key
    FROM citus_stat_statements
   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   GROUP BY queryid, userid, dbid, query, executor
), p AS (
  SELECT queryid, userid, dbid, sum(total_exec_time) AS total_ms, sum(rows)::bigint AS rows
    FROM pg_stat_statements(false) GROUP BY 1, 2, 3
), top AS (
  SELECT c.queryid, c.query, c.executor, c.calls, COALESCE(c.keyed_calls, 0) AS keyed_calls, c.keys, c.sample_key,
         p.total_ms, p.total_ms / NULLIF(c.calls, 0) AS mean_ms, p.rows
    FROM c LEFT JOIN p USING (queryid, userid, dbid)
   ORDER BY {order} DESC NULLS LAST, c.queryid
   LIMIT %s
)
SELECT top.*,
       EXISTS (SELECT 1 FROM pg_dist_partition d JOIN pg_class r ON r.oid = d.logicalrelid
                WHERE d.partmethod = 'h' AND d.partkey IS NOT NULL
                  AND position(lower(r.relname::text) IN lower(top.query)) > 0) AS distributed
  FROM top
 ORDER BY {order_out} DESC NULLS LAST, top.queryid
"""


def top_statements(sess: Session, *, order: str = "calls", limit: int = 50) -> list[Statement]:
    """Coordinator-only: citus_stat_statements is node-local (the coordinator plans the queries)."""
    column = {"calls": "c.calls", "time": "p.total_ms"}[order]
    column_out = {"calls": "top.calls", "time": "top.total_ms"}[order]
    query = sql.SQL(_STATEMENTS).format(order=sql.SQL(column), order_out=sql.SQL(column_out))
    return sess.fetch_all(query, (limit,), row=Statement)


def reset_statements_sql() -> sql.Composed:
    return sql.SQL("SELECT citus_stat_statements_reset()").format()


def reset_tenants_sql() -> sql.Composed:
    return sql.SQL("SELECT citus_stat_tenants_reset()").format()


# --- activity --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    global_pid: int
    nodeid: int
    pid: int
    usename: str | None
    application_name: str | None
    client_addr: str | None
    state: str | None
    wait_event_type: str | None
    wait_event: str | None
    query: str | None
    query_start: datetime | None
    xact_start: datetime | None
    duration: timedelta | None
    is_worker_query: bool

    @property
    def waiting(self) -> bool:
        return self.wait_event_type == "Lock" or (self.wait_event_type is not None and self.state == "active")


_ACTIVITY = """
SELECT global_pid, nodeid, pid, usename::text, application_name, client_addr::text, state, wait_event_type, wait_event,
       query, query_start, xact_start, now() - COALESCE(query_start, backend_start) AS duration, is_worker_query
  FROM {view}
 WHERE backend_type = 'client backend' AND global_pid <> citus_backend_gpid()
   AND (%s OR state IS DISTINCT FROM 'idle')
 ORDER BY query_start NULLS LAST, global_pid
 LIMIT %s
"""


def activity(
    sess: Session, *, include_idle: bool = False, worker_fragments: bool = False, limit: int = 200
) -> list[Backend]:
    """One fan-out statement (run it inside ``fanout``)."""
    view = "citus_stat_activity" if worker_fragments else "citus_dist_stat_activity"
    query = sql.SQL(_ACTIVITY).format(view=sql.Identifier(view))
    return sess.fetch_all(query, (include_idle, limit), row=Backend)


_ONE_BACKEND = """
SELECT global_pid, nodeid, pid, usename::text, application_name, client_addr::text, state, wait_event_type, wait_event,
       query, query_start, xact_start, now() - COALESCE(query_start, backend_start) AS duration, is_worker_query
  FROM citus_stat_activity
 WHERE global_pid = %s
 LIMIT 1
"""


def backend(sess: Session, global_pid: int) -> Backend | None:
    """The session behind ``global_pid`` as the cluster reports it (what a cancel or terminate hits;
    the audit trail records this, not what a browser said it was). Run inside ``fanout``."""
    return sess.fetch_one(_ONE_BACKEND, (global_pid,), row=Backend)


def cancel_sql(global_pid: int) -> sql.Composed:
    return sql.SQL("SELECT pg_cancel_backend({}::bigint)").format(sql.Literal(global_pid))


def terminate_sql(global_pid: int) -> sql.Composed:
    return sql.SQL("SELECT pg_terminate_backend({}::bigint)").format(sql.Literal(global_pid))


# --- lock waits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockWait:
    waiting_gpid: int
    blocking_gpid: int
    blocked_statement: str | None
    blocking_statement: str | None
    waiting_nodeid: int
    blocking_nodeid: int
    waiting_user: str | None
    waiting_for: timedelta | None
    blocking_state: str | None


_LOCK_WAITS = """
WITH a AS MATERIALIZED (SELECT global_pid, usename::text AS usename, query_start, state FROM citus_dist_stat_activity)
SELECT w.waiting_gpid, w.blocking_gpid, w.blocked_statement,
       w.current_statement_in_blocking_process AS blocking_statement, w.waiting_nodeid, w.blocking_nodeid,
       wa.usename AS waiting_user, now() - wa.query_start AS waiting_for, ba.state AS blocking_state
  FROM citus_lock_waits w
  LEFT JOIN a wa ON wa.global_pid = w.waiting_gpid
  LEFT JOIN a ba ON ba.global_pid = w.blocking_gpid
 ORDER BY waiting_for DESC NULLS LAST
 LIMIT %s
"""


# The wait edges alone: one fan-out. citus_lock_waits adds a second (citus_dist_stat_activity) and our
# query a third, each waiting out the node timeout when a node hangs; most of the time there is no edge.
_BLOCKED_FUNCTIONS = {
    "citus_internal.global_blocked_processes()": sql.SQL("citus_internal.global_blocked_processes()"),
    "citus_internal_global_blocked_processes()": sql.SQL("pg_catalog.citus_internal_global_blocked_processes()"),
}


def lock_waits(sess: Session, *, limit: int = 200, blocked_processes: str | None = None) -> list[LockWait]:
    """Who waits for whom. With ``blocked_processes`` (from ``prerequisites``), first asks only for the
    wait edges (one fan-out) and reads the statements and users only when there are some."""
    function = _BLOCKED_FUNCTIONS.get(blocked_processes or "")
    if function is not None:
        edges = sess.scalar(sql.SQL("SELECT count(*) FROM {}").format(function))
        if not edges:
            return []
    return sess.fetch_all(_LOCK_WAITS, (limit,), row=LockWait)


# --- tenants ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    nodeid: int
    colocation_id: int
    tables: str | None  # the first three co-located tables (a row no longer lists a thousand)
    table_count: int
    tenant_attribute: str
    read_count_in_this_period: int
    read_count_in_last_period: int
    query_count_in_this_period: int
    query_count_in_last_period: int
    cpu_usage_in_this_period: float
    cpu_usage_in_last_period: float


_TENANTS = """
SELECT t.nodeid, t.colocation_id,
       (SELECT string_agg(name, ', ') FROM (SELECT p.logicalrelid::regclass::text AS name FROM pg_dist_partition p
          WHERE p.colocationid = t.colocation_id ORDER BY 1 LIMIT 3) first_three) AS tables,
       (SELECT count(*) FROM pg_dist_partition p WHERE p.colocationid = t.colocation_id)::int AS table_count,
       t.tenant_attribute, t.read_count_in_this_period, t.read_count_in_last_period,
       t.query_count_in_this_period, t.query_count_in_last_period,
       t.cpu_usage_in_this_period, t.cpu_usage_in_last_period
  FROM citus_stat_tenants t
 ORDER BY t.query_count_in_this_period + t.query_count_in_last_period DESC,
          t.cpu_usage_in_this_period DESC, t.tenant_attribute
 LIMIT %s
"""


def tenants(sess: Session, *, limit: int = 50) -> list[Tenant]:
    return sess.fetch_all(_TENANTS, (limit,), row=Tenant)


# --- health ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reachability:
    nodeid: int
    reachable: bool


@dataclass(frozen=True)
class HealthFacts:
    """What the health page needs beyond ``nodes.list_nodes``: leftovers, background tasks, and whether
    the coordinator reaches each active node now. One statement; run it inside ``fanout``."""

    measured_at: datetime
    cleanup_records: int | None
    cleanup_oldest: str | None
    cleanup_orphaned: int | None  # records whose node group no longer exists (nothing can drop them)
    failed_tasks: list[str]
    retrying_tasks: list[str]
    reachability: list[dict[str, Any]]  # [{"nodeid": n, "reachable": bool}]

    @property
    def reach(self) -> list[Reachability]:
        return [Reachability(int(r["nodeid"]), bool(r["reachable"])) for r in self.reachability]


_HEALTH = """
SELECT now() AS measured_at,
       {cleanup},
       {tasks},
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                          'nodeid', nodeid,
                          'reachable', COALESCE(citus_check_connection_to_node(nodename, nodeport), false))
                        ORDER BY nodeid)
                   FROM pg_dist_node WHERE isactive AND noderole = 'primary'), '[]') AS reachability
"""


def health_facts_sql(*, has_cleanup: bool, has_tasks: bool) -> sql.Composed:
    cleanup = (
        "(SELECT count(*) FROM pg_dist_cleanup)::int AS cleanup_records, "
        "(SELECT min(object_name) FROM pg_dist_cleanup) AS cleanup_oldest, "
        "(SELECT count(*) FROM pg_dist_cleanup c WHERE NOT EXISTS "
        "(SELECT 1 FROM pg_dist_node n WHERE n.groupid = c.node_group_id))::int AS cleanup_orphaned"
        if has_cleanup
        else "NULL::int AS cleanup_records, NULL::text AS cleanup_oldest, NULL::int AS cleanup_orphaned"
    )
    tasks = (
        "ARRAY(SELECT format('job %s task %s: %s', t.job_id, t.task_id, left(COALESCE(t.message, ''), 300)) "
        "FROM pg_dist_background_task t WHERE t.status = 'error' ORDER BY t.task_id DESC LIMIT 10) AS failed_tasks, "
        "ARRAY(SELECT format('job %s task %s: retry %s — %s', t.job_id, t.task_id, t.retry_count, "
        "left(COALESCE(t.message, ''), 300)) FROM pg_dist_background_task t "
        "WHERE t.status IN ('runnable', 'running') AND COALESCE(t.retry_count, 0) > 0 "
        "ORDER BY t.task_id DESC LIMIT 10) AS retrying_tasks"
        if has_tasks
        else "ARRAY[]::text[] AS failed_tasks, ARRAY[]::text[] AS retrying_tasks"
    )
    return sql.SQL(_HEALTH).format(cleanup=sql.SQL(cleanup), tasks=sql.SQL(tasks))


def health_facts(sess: Session, *, has_cleanup: bool, has_tasks: bool) -> HealthFacts:
    row = sess.fetch_one(health_facts_sql(has_cleanup=has_cleanup, has_tasks=has_tasks), row=HealthFacts)
    assert row is not None
    return row


@dataclass(frozen=True)
class NodeName:
    nodeid: int
    address: str


def node_names(sess: Session) -> dict[int, str]:
    rows = sess.fetch_all(
        "SELECT nodeid, format('%s:%s', nodename, nodeport) AS address FROM pg_dist_node", row=NodeName
    )
    return {r.nodeid: r.address for r in rows}
