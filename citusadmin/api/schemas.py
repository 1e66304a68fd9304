"""What the API answers and accepts (pydantic, via django-ninja): the OpenAPI schema is made of these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field


class ClusterOut(Schema):
    id: int
    name: str
    description: str
    host: str
    port: int
    dbname: str


class NodeOut(Schema):
    nodeid: int
    groupid: int
    address: str
    shouldhaveshards: bool
    isactive: bool
    metadatasynced: bool
    reachable: bool | None
    placements: int
    bytes: int | None
    connections: int | None


class NodesOut(Schema):
    cluster: str
    measured_at: datetime | None
    nodes: list[NodeOut]


class TableOut(Schema):
    relid: int
    name: str
    kind: str
    distribution_column: str | None
    colocation_id: int | None
    shard_count: int
    estimated_rows: int


class TablesOut(Schema):
    tables: list[TableOut]
    next_after: str | None


class ShardOut(Schema):
    shardid: int
    min_value: str | None
    max_value: str | None
    nodes: list[str]


class TableDetailOut(Schema):
    relid: int
    name: str
    kind: str
    owner: str
    distribution_column: str | None
    colocation_id: int | None
    colocated_with: list[str]
    estimated_rows: int
    columns: list[str]
    shards: list[ShardOut]
    next_shard_after: int | None
    read_at: datetime


class ColocationOut(Schema):
    colocation_id: int
    caption: str
    shard_count: int
    column_type: str | None
    tables: list[str]
    placements_per_node: dict[str, int]


class ColocationsOut(Schema):
    groups: list[ColocationOut]
    next_after: int | None
    read_at: datetime


class CheckOut(Schema):
    key: str
    title: str
    status: Literal["green", "amber", "red", "unknown"]
    reason: str
    fix: str
    measured: str


class HealthOut(Schema):
    cluster: str
    overall: str
    checks: list[CheckOut]
    error: str | None = None
    read_at: datetime


class LogLine(Schema):
    at: datetime
    level: str
    message: str


class JobOut(Schema):
    id: int
    cluster: str
    kind: str
    label: str
    target: str
    state: str
    citus_job_id: int | None
    progress_done: int
    progress_total: int | None
    percent: int | None
    phase: str
    current: str
    error: str
    summary: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str


class JobDetailOut(JobOut):
    log: list[LogLine]


class AuditOut(Schema):
    id: int
    created_at: datetime
    actor: str
    source: str
    client_ip: str | None
    cluster: str
    action: str
    target: str
    parameters: dict[str, Any]
    sql: str
    outcome: str
    error: str
    sqlstate: str
    duration_ms: int | None
    job_id: int | None


class AuditPageOut(Schema):
    entries: list[AuditOut]
    next_before: int | None


class RequestOut(Schema):
    id: int
    cluster: str
    kind: str
    label: str
    target: str
    parameters: dict[str, Any]
    statement: str
    reason: str
    problems: list[str]
    warnings: list[str]
    checked_at: datetime
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str
    decided_at: datetime | None
    comment: str
    job: int | None


class RequestsOut(Schema):
    requests: list[RequestOut]
    next_before: int | None


class MoveOut(Schema):
    table: str
    shardid: int
    bytes: int | None
    source: str
    target: str


class RebalancePlanOut(Schema):
    state: Literal["ready", "computing", "failed"]
    statement: str
    moves: list[MoveOut]
    total_bytes: int
    computed_at: datetime | None
    error: str | None = None
    retry_after_seconds: int | None = None


class DoneOut(Schema):
    """A change that ran at once: what happened, the statement sent, and Citus's notices."""

    done: str
    statement: str
    notices: list[str] = []


class PreviewOut(Schema):
    """``preview: true``: nothing was sent; this is what would be."""

    statement: str
    refusal: str | None = None


# --- input -------------------------------------------------------------------------------------------------


class RebalanceIn(Schema):
    scope: Literal["cluster", "table"] = "cluster"
    strategy: str | None = Field(None, max_length=200)
    transfer_mode: str | None = Field(None, max_length=40)
    drain_only: bool = False
    relation: str | None = Field(None, max_length=300, description="scope table: schema.table")
    threshold: float | None = None
    max_shard_moves: int | None = None
    excluded_shards: list[int] | None = None


class NodeIn(Schema):
    host: str = Field(max_length=253)
    port: int = 5432
    role: Literal["primary", "secondary"] = "primary"
    groupid: int | None = None
    nodecluster: str = Field("default", max_length=63)
    preview: bool = False


class NodeOperationIn(Schema):
    """Fields per operation: should-have-shards takes ``value``; update takes ``host`` and ``port``;
    remove takes ``force``. ``preview: true`` answers with the statement and sends nothing."""

    value: bool | None = None
    host: str | None = Field(None, max_length=253)
    port: int | None = None
    force: bool = False
    preview: bool = False


class DrainIn(Schema):
    remove: bool = Field(False, description="remove the node from the cluster once it holds no shards")
    transfer_mode: Literal["auto", "force_logical", "block_writes"] | None = None
    preview: bool = False


class DistributeIn(Schema):
    column: str = Field(max_length=63)
    shard_count: int | None = None
    colocate_with: str = Field("default", max_length=300, description="default, none, or a distributed table")
    as_job: bool = False
    preview: bool = False


class TableOperationIn(Schema):
    """Fields per operation: undistribute and add-to-metadata take ``cascade``; alter takes
    ``shard_count``, ``colocate_with``, ``distribution_column``, ``cascade_to_colocated``; grant takes
    ``privilege``, ``role``, ``revoke``. ``preview: true`` answers with the statement and sends nothing."""

    cascade: bool = False
    shard_count: int | None = None
    colocate_with: str | None = Field(None, max_length=200)
    distribution_column: str | None = Field(None, max_length=63)
    cascade_to_colocated: bool | None = None
    privilege: str | None = Field(None, max_length=40)
    role: str | None = Field(None, max_length=63)
    revoke: bool = False
    preview: bool = False


class RequestIn(Schema):
    kind: Literal["distribute", "reference", "shard_count", "analyze", "rebalance"]
    table: str | None = Field(None, max_length=200, description="schema.table (not for rebalance)")
    column: str | None = Field(None, max_length=63)
    shard_count: int | None = None
    colocate_with: str | None = Field(None, max_length=127)
    cascade_to_colocated: bool = True
    reason: str = Field(max_length=2000)
    preview: bool = False


class DecisionIn(Schema):
    comment: str = Field("", max_length=2000)
