"""Rebalancing, draining and other long operations (citus-api.md §6).

Two paths: Citus's own background jobs (``citus_rebalance_start``, 11.1+), which survive a crash of
the caller and are followed by polling ``citus_job_status``; and blocking calls that hold the
calling session (``rebalance_table_shards``, ``alter_distributed_table``, VACUUM), followed from a
second session through ``get_rebalance_progress()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql

from citusadmin.citus.connection import Session

ACTIVE_CITUS_JOB_STATES = ("scheduled", "running", "cancelling", "failing")
FINAL_CITUS_JOB_STATES = ("finished", "cancelled", "failed")
TRANSFER_MODES = ("auto", "force_logical", "block_writes")
_ALREADY_RUNNING = re.compile(r"already running as job (\d+)", re.I)


def already_running_job(message: str) -> int | None:
    """The Citus job id in 'A rebalance is already running as job N', if that is the message."""
    found = _ALREADY_RUNNING.search(message or "")
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Strategy:
    name: str
    default_strategy: bool
    default_threshold: float
    minimum_threshold: float


def strategies(sess: Session) -> list[Strategy]:
    return sess.fetch_all(
        "SELECT name::text AS name, default_strategy, "
        "round(default_threshold::numeric, 6)::float8 AS default_threshold, "
        "round(minimum_threshold::numeric, 6)::float8 AS minimum_threshold "
        "FROM pg_dist_rebalance_strategy ORDER BY name",
        row=Strategy,
    )


@dataclass(frozen=True)
class PlannedMove:
    table_name: str
    shardid: int
    shard_size: int | None
    sourcename: str
    sourceport: int
    targetname: str
    targetport: int

    @property
    def source(self) -> str:
        return f"{self.sourcename}:{self.sourceport}"

    @property
    def target(self) -> str:
        return f"{self.targetname}:{self.targetport}"


def _named(pairs: list[tuple[str, Any]]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} => {}").format(
            sql.Identifier(name), value if isinstance(value, sql.Composable) else sql.Literal(value)
        )
        for name, value in pairs
        if value is not None
    )


def plan(
    sess: Session,
    *,
    relation: str | None = None,
    threshold: float | None = None,
    max_shard_moves: int | None = None,
    excluded_shards: list[int] | None = None,
    drain_only: bool = False,
    strategy: str | None = None,
) -> list[PlannedMove]:
    """The moves Citus would make (``get_rebalance_table_shards_plan``), with each shard's size.

    The plan's own shard_size comes from the unmaintained shardlength (0 on 13.2), so sizes are joined
    from one ``citus_shard_sizes()`` call. This reaches the workers: it runs on an explicit request
    with the session's short node timeout, never on a page view.
    """
    args = _named(
        [
            ("relation", sql.SQL("{}::regclass").format(sql.Literal(relation)) if relation else None),
            ("threshold", threshold),
            ("max_shard_moves", max_shard_moves),
            (
                "excluded_shard_list",
                sql.SQL("{}::bigint[]").format(sql.Literal(excluded_shards)) if excluded_shards else None,
            ),
            ("drain_only", drain_only or None),
            ("rebalance_strategy", strategy),
        ]
    )
    query = sql.SQL(
        "WITH p AS (SELECT * FROM get_rebalance_table_shards_plan({})), "
        "s AS (SELECT shard_id::bigint AS shard_id, max(size) AS size FROM citus_shard_sizes() GROUP BY 1) "
        "SELECT p.table_name::text AS table_name, p.shardid, s.size AS shard_size, p.sourcename, p.sourceport, "
        "p.targetname, p.targetport FROM p LEFT JOIN s ON s.shard_id = p.shardid"
    ).format(args)
    return sess.fetch_all(query, row=PlannedMove)


def start_sql(
    *, strategy: str | None = None, drain_only: bool = False, transfer_mode: str | None = None
) -> sql.Composed:
    """``citus_rebalance_start`` with named arguments (its signature grew in 13.2)."""
    args = _named(
        [
            ("rebalance_strategy", strategy),
            ("drain_only", True if drain_only else None),
            (
                "shard_transfer_mode",
                sql.SQL("{}::citus.shard_transfer_mode").format(sql.Literal(transfer_mode)) if transfer_mode else None,
            ),
        ]
    )
    return sql.SQL("SELECT citus_rebalance_start({})").format(args)


def rebalance_table_sql(
    relation: str,
    *,
    threshold: float | None = None,
    max_shard_moves: int | None = None,
    excluded_shards: list[int] | None = None,
    transfer_mode: str | None = None,
    strategy: str | None = None,
) -> sql.Composed:
    args = _named(
        [
            ("relation", sql.SQL("{}::regclass").format(sql.Literal(relation))),
            ("threshold", threshold),
            ("max_shard_moves", max_shard_moves),
            (
                "excluded_shard_list",
                sql.SQL("{}::bigint[]").format(sql.Literal(excluded_shards)) if excluded_shards else None,
            ),
            (
                "shard_transfer_mode",
                sql.SQL("{}::citus.shard_transfer_mode").format(sql.Literal(transfer_mode)) if transfer_mode else None,
            ),
            ("rebalance_strategy", strategy),
        ]
    )
    return sql.SQL("SELECT rebalance_table_shards({})").format(args)


@dataclass(frozen=True)
class CitusJob:
    job_id: int
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    details: dict[str, Any]

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_CITUS_JOB_STATES

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.details.get("task_state_counts") or {})

    @property
    def tasks(self) -> list[dict[str, Any]]:
        return list(self.details.get("tasks") or [])


_JOB_STATUS = """
SELECT j.job_id, j.state::text AS state, j.started_at, j.finished_at,
       jsonb_build_object(
         'task_state_counts',
         COALESCE((SELECT jsonb_object_agg(status, n)
                     FROM (SELECT t.status::text AS status, count(*) AS n FROM pg_dist_background_task t
                            WHERE t.job_id = j.job_id GROUP BY 1) c), '{}'::jsonb),
         'tasks',
         COALESCE((SELECT jsonb_agg(jsonb_build_object('task_id', t.task_id, 'state', t.status::text,
                                                       'command', t.command, 'message', t.message,
                                                       'retried', t.retry_count) ORDER BY t.task_id)
                     FROM pg_dist_background_task t
                    WHERE t.job_id = j.job_id
                      AND (t.status = 'running' OR (t.status = 'runnable' AND t.retry_count > 0))),
                  '[]'::jsonb)) AS details
  FROM pg_dist_background_job j
 WHERE j.job_id = %s
"""


def job_status(sess: Session, job_id: int) -> CitusJob | None:
    """One job's state, task counts, running tasks and retries, from the coordinator's catalogs.

    Unlike ``citus_job_status()``, which also measures the running move's shard sizes on the nodes,
    this never leaves the coordinator, so a node that is down cannot make it fail. (11.1+)
    """
    return sess.fetch_one(_JOB_STATUS, (job_id,), row=CitusJob)


def latest_rebalance_job(sess: Session) -> CitusJob | None:
    """The newest rebalance job (to re-attach when its id was never stored)."""
    return sess.fetch_one(
        "SELECT job_id, state::text AS state, started_at, finished_at, '{}'::jsonb AS details "
        "FROM pg_dist_background_job WHERE job_type = 'rebalance' ORDER BY job_id DESC LIMIT 1",
        row=CitusJob,
    )


def cancel_job_sql(job_id: int) -> sql.Composed:
    return sql.SQL("SELECT citus_job_cancel({})").format(sql.Literal(job_id))


def cancel_backend_sql(pid: int) -> sql.Composed:
    return sql.SQL("SELECT pg_cancel_backend({})").format(sql.Literal(pid))


@dataclass(frozen=True)
class MoveProgress:
    """A row of ``get_rebalance_progress()`` as JSON (its columns changed between versions)."""

    data: dict[str, Any]

    @property
    def table_name(self) -> str:
        return str(self.data.get("table_name", ""))

    @property
    def shardid(self) -> int:
        return int(self.data.get("shardid", 0))

    @property
    def progress(self) -> int:
        return int(self.data.get("progress", 0))

    @property
    def status(self) -> str:
        return str(
            self.data.get("status") or {0: "Not Started Yet", 1: "Moving", 2: "Completed"}.get(self.progress, "")
        )

    @property
    def source(self) -> str:
        return f"{self.data.get('sourcename')}:{self.data.get('sourceport')}"

    @property
    def target(self) -> str:
        return f"{self.data.get('targetname')}:{self.data.get('targetport')}"

    @property
    def source_size(self) -> int | None:
        value = self.data.get("source_shard_size")
        return int(value) if value is not None else None

    @property
    def target_size(self) -> int | None:
        value = self.data.get("target_shard_size")
        return int(value) if value is not None else None

    @property
    def sessionid(self) -> int:
        return int(self.data.get("sessionid", 0))


def progress(sess: Session) -> list[MoveProgress]:
    return sess.fetch_all("SELECT to_jsonb(p) AS data FROM get_rebalance_progress() p", row=MoveProgress)


def alter_table_sql(
    relation: str,
    *,
    shard_count: int | None = None,
    colocate_with: str | None = None,
    distribution_column: str | None = None,
    cascade_to_colocated: bool | None = None,
) -> sql.Composed:
    """``alter_distributed_table``: change shard count, co-location or distribution column (blocking)."""
    args = _named(
        [
            ("distribution_column", distribution_column),
            ("shard_count", shard_count),
            ("colocate_with", colocate_with),
            ("cascade_to_colocated", cascade_to_colocated),
        ]
    )
    return sql.SQL("SELECT alter_distributed_table({}::regclass, {})").format(sql.Literal(relation), args)


def shard_count_sql(relation: str, shard_count: int, *, cascade_to_colocated: bool) -> sql.Composed:
    return sql.SQL(
        "SELECT alter_distributed_table({}::regclass, shard_count => {}, cascade_to_colocated => {})"
    ).format(sql.Literal(relation), sql.Literal(shard_count), sql.Literal(cascade_to_colocated))


def distribute_concurrently_sql(
    relation: str, column: str, *, shard_count: int | None, colocate_with: str | None
) -> sql.Composed:
    args = _named([("shard_count", shard_count), ("colocate_with", colocate_with)])
    extra = sql.SQL(", {}").format(args) if shard_count is not None or colocate_with is not None else sql.SQL("")
    return sql.SQL("SELECT create_distributed_table_concurrently({}, {}{})").format(
        sql.Literal(relation), sql.Literal(column), extra
    )


def maintenance_sql(command: str, schema: str, table: str) -> sql.Composed:
    if command not in ("VACUUM", "ANALYZE", "VACUUM ANALYZE"):
        raise ValueError(command)
    return sql.SQL(command + " {}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def remove_node_sql(host: str, port: int) -> sql.Composed:
    return sql.SQL("SELECT citus_remove_node({}, {})").format(sql.Literal(host), sql.Literal(port))


@dataclass(frozen=True)
class TaskOutcome:
    task_id: int
    status: str
    retry_count: int | None
    message: str | None
    command: str


def ended_tasks(sess: Session, job_id: int) -> list[TaskOutcome]:
    """Tasks of a Citus job that errored or were cancelled, with Citus's message."""
    return sess.fetch_all(
        "SELECT task_id, status::text AS status, retry_count, message, command FROM pg_dist_background_task "
        "WHERE job_id = %s AND status IN ('error', 'cancelled') ORDER BY task_id",
        (job_id,),
        row=TaskOutcome,
    )


def max_job_id(sess: Session) -> int:
    return int(sess.scalar("SELECT COALESCE(max(job_id), 0) FROM pg_dist_background_job") or 0)


# --- naming a background task ----------------------------------------------------------------------

_PLACEMENT_TASK = re.compile(r"citus_(move|copy)_shard_placement\((\d+)\s*,\s*(\d+)\s*,\s*(\d+)")


@dataclass(frozen=True)
class _ShardNames:
    table_name: str | None
    source: str | None
    target: str | None


def describe_command(sess: Session, command: str) -> str:
    """A background task's command in names: ``citus_move_shard_placement(102083,3,11,'auto')`` becomes
    "move shard 102083 of public.events from 10.0.0.3:5432 to 10.0.0.11:5432" (one catalog read)."""
    match = _PLACEMENT_TASK.search(command)
    if match is None:
        if "replicate_reference_tables" in command:
            return "copy the reference tables to the nodes that lack them"
        return command.replace("SELECT pg_catalog.", "").strip()
    verb, shardid, source, target = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
    names = sess.fetch_one(
        "SELECT (SELECT logicalrelid::regclass::text FROM pg_dist_shard WHERE shardid = %(shard)s) AS table_name, "
        "(SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE nodeid = %(source)s) AS source, "
        "(SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE nodeid = %(target)s) AS target",
        {"shard": shardid, "source": source, "target": target},
        row=_ShardNames,
    )
    table = names.table_name if names and names.table_name else "a dropped table"
    src = names.source if names and names.source else f"node {source}"
    dst = names.target if names and names.target else f"node {target}"
    return f"{verb} shard {shardid} of {table} from {src} to {dst}"


@dataclass(frozen=True)
class NodePlacements:
    node: str
    placements: int


def table_placements(sess: Session, relation: str) -> dict[str, int]:
    """Placements of one table per node (host:port), for a one-table preview (catalog only)."""
    rows = sess.fetch_all(
        "SELECT n.nodename || ':' || n.nodeport AS node, count(*)::int AS placements "
        "FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid) JOIN pg_dist_node n USING (groupid) "
        "WHERE s.logicalrelid = %s::regclass AND n.noderole = 'primary' GROUP BY 1",
        (relation,),
        row=NodePlacements,
    )
    return {r.node: r.placements for r in rows}
