"""ANALYZE of one table: Citus runs it on every shard, so the planner's row estimates are fresh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams


@dataclass(frozen=True)
class AnalyzeParams(BaseParams):
    schema: str = ""
    table: str = ""
    relation: str = ""  # the table's qualified name, as the job list shows it


class Analyze(JobKind):
    name = "analyze"
    label = "ANALYZE"
    perm = Perm.START_MAINTENANCE
    mode = Mode.BLOCKING
    Params = AnalyzeParams

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return sql.SQL("ANALYZE {}.{}").format(sql.Identifier(p.schema), sql.Identifier(p.table))
