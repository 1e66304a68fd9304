"""Table changes that run as jobs: change the shard count (``alter_distributed_table``), distribute
(concurrently when Citus can), make a reference table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from citusadmin.citus import rebalance
from citusadmin.citus.connection import direct_session
from citusadmin.citus.errors import CitusError
from citusadmin.citus.tables import distribute_sql, reference_sql, relation_state
from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams
from jobs.models import Job
from jobs.state import application_name, log, update


@dataclass(frozen=True)
class AlterParams(BaseParams):
    relation: str = ""
    schema: str = ""
    table: str = ""
    shard_count: int | None = None
    colocate_with: str | None = None
    distribution_column: str | None = None
    cascade_to_colocated: bool | None = None


@dataclass(frozen=True)
class DistributeParams(BaseParams):
    relation: str = ""
    column: str = ""
    shard_count: int | None = None
    colocate_with: str | None = None
    concurrently: bool = True


@dataclass(frozen=True)
class ReferenceParams(BaseParams):
    relation: str = ""


class ChangeShardCount(JobKind):
    name = "change_shard_count"
    label = "Alter distributed table"
    perm = Perm.ALTER_TABLE
    mode = Mode.BLOCKING
    lock = "rebalance"
    Params = AlterParams

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return rebalance.alter_table_sql(
            p.relation,
            shard_count=p.shard_count,
            colocate_with=p.colocate_with,
            distribution_column=p.distribution_column,
            cascade_to_colocated=p.cascade_to_colocated,
        )


class DistributeConcurrently(JobKind):
    name = "distribute_concurrently"
    label = "Distribute a table"
    perm = Perm.ALTER_TABLE
    mode = Mode.BLOCKING
    Params = DistributeParams

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return distribute_sql(
            p.relation,
            p.column,
            shard_count=p.shard_count,
            colocate_with=p.colocate_with,
            concurrently=p.concurrently,
        )

    def left_behind(self, job: Job) -> str:
        return _left_behind(job)


class MakeReference(JobKind):
    name = "make_reference"
    label = "Make a reference table"
    perm = Perm.MAKE_REFERENCE_TABLE
    mode = Mode.BLOCKING
    Params = ReferenceParams

    def statement(self, params: Any) -> sql.Composed:
        return reference_sql(self.Params.load(params).relation)


def _left_behind(job: Job) -> str:
    """create_distributed_table_concurrently converts a plain table to a Citus local table before it
    copies; when it fails after that, the table stays a Citus local table. Say so, and keep its oid
    so the job page offers the undo (undistribute_table)."""
    if not job.parameters.get("concurrently", True):
        return ""
    relation = job.target or str(job.parameters["relation"])
    try:
        with direct_session(
            job.cluster.target(), application_name=application_name(job), statement_timeout_ms=10_000
        ) as sess:
            state = relation_state(sess, str(job.parameters["relation"]))
    except CitusError as exc:
        return f" Could not check what Citus left of {relation}: {exc.user_message}"
    if state is None or state.kind != "citus_local":
        return ""
    update(job, parameters={**job.parameters, "left_citus_local_relid": state.relid})
    log(job, f"Citus left {relation} as a Citus local table.", "warning")
    return (
        f" Citus left {relation} as a Citus local table (it was a plain PostgreSQL table): the concurrent "
        "distribution converts it first and does not undo that when it fails. Undo it with Undistribute "
        "(undistribute_table), or distribute it again."
    )
