"""VACUUM (or VACUUM ANALYZE) of one table: Citus runs it on every shard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from citusadmin.citus import rebalance
from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams


@dataclass(frozen=True)
class VacuumParams(BaseParams):
    schema: str = ""
    table: str = ""
    relation: str = ""
    command: str = "VACUUM"  # or "VACUUM ANALYZE"


class Vacuum(JobKind):
    name = "vacuum"
    label = "VACUUM"
    perm = Perm.START_MAINTENANCE
    mode = Mode.BLOCKING
    Params = VacuumParams

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return rebalance.maintenance_sql(p.command, p.schema, p.table)
