"""Distributing a table, declared once for the page and the API: the checks, the exact statement,
whether it runs as a job (``create_distributed_table_concurrently`` where the cluster has it), and
the run itself through the same audited action or job kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from psycopg import sql

from citusadmin.citus import tables as citus_tables
from citusadmin.perms import Actor
from clusters.models import Cluster
from jobs import kinds
from jobs.actions import do_start_job
from jobs.models import Job
from tables import actions, reads
from tables.checks import Checks, check_distribute


@dataclass(frozen=True)
class DistributePlan:
    info: citus_tables.TableInfo
    checks: Checks
    statement: sql.Composed
    as_job: bool
    concurrently: bool
    parameters: dict[str, Any]

    @property
    def preview(self) -> str:
        return self.statement.as_string()


def plan(
    cluster: Cluster,
    info: citus_tables.TableInfo,
    create_concurrently: bool,
    *,
    column: str,
    shard_count: int | None,
    colocate_with: str,
    as_job: bool,
) -> DistributePlan:
    """Checks and statement for distributing ``info`` by ``column`` (two catalog statements at most)."""
    colocate_with = colocate_with or "default"
    colocation, rows = reads.distribute_facts(cluster, info, colocate_with)
    checks = check_distribute(info, column, colocation, colocate_with, exact_rows=rows)
    as_job = as_job or info.local_bytes > settings.DISTRIBUTE_JOB_BYTES
    concurrently = as_job and create_concurrently
    partner = None if colocate_with == "default" else colocate_with
    statement = citus_tables.distribute_sql(
        info.qualified, column, shard_count=shard_count, colocate_with=partner, concurrently=concurrently
    )
    parameters = {"relation": info.qualified, "column": column, "shard_count": shard_count, "colocate_with": partner}
    return DistributePlan(info, checks, statement, as_job, concurrently, parameters)


def run(actor: Actor, cluster: Cluster, planned: DistributePlan) -> Job | list[str]:
    """The job it started, or Citus's notices when it ran at once. The caller checked ``checks.ok``."""
    if planned.as_job:
        return do_start_job(
            actor,
            cluster,
            kinds.KINDS["distribute_concurrently"],
            {**planned.parameters, "concurrently": planned.concurrently},
            target=planned.info.display,
        )
    return actions.do_distribute(actor, cluster, planned.info.display, planned.statement, planned.parameters)
