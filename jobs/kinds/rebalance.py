"""Rebalance the cluster (Citus's background job) or one table (a blocking call)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from citusadmin.citus import rebalance
from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams


@dataclass(frozen=True)
class RebalanceParams(BaseParams):
    strategy: str | None = None
    transfer_mode: str | None = None
    drain_only: bool = False


@dataclass(frozen=True)
class RebalanceTableParams(BaseParams):
    relation: str = ""
    strategy: str | None = None
    transfer_mode: str | None = None
    threshold: float | None = None
    max_shard_moves: int | None = None
    excluded_shards: list[int] = field(default_factory=list)


class Rebalance(JobKind):
    name = "rebalance"
    label = "Rebalance cluster"
    perm = Perm.START_REBALANCE
    mode = Mode.BACKGROUND
    lock = "rebalance"
    Params = RebalanceParams
    progress_unit = "tasks"

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return rebalance.start_sql(strategy=p.strategy, drain_only=p.drain_only, transfer_mode=p.transfer_mode)


class RebalanceTable(JobKind):
    name = "rebalance_table"
    label = "Rebalance one table"
    perm = Perm.START_REBALANCE
    mode = Mode.BLOCKING
    lock = "rebalance"
    Params = RebalanceTableParams
    progress_unit = "shard moves"
    progress_from_rebalancer = True

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return rebalance.rebalance_table_sql(
            p.relation,
            threshold=p.threshold,
            max_shard_moves=p.max_shard_moves,
            excluded_shards=p.excluded_shards or None,
            transfer_mode=p.transfer_mode,
            strategy=p.strategy,
        )
