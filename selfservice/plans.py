"""What a requested change would send, and whether Citus would accept it now.

The same pre-checks the Admin forms run (``tables.checks``) on the cluster as it is at the moment of
asking, and again at approval: the cluster may have changed in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.template.defaultfilters import filesizeformat

from citusadmin.citus import rebalance
from citusadmin.citus import tables as citus_tables
from citusadmin.citus.connection import session
from clusters.models import Cluster
from jobs import kinds
from jobs.models import Job
from selfservice.models import ChangeRequest
from tables.checks import check_distribute

Kind = ChangeRequest.Kind


@dataclass
class Plan:
    target: str
    statement: str
    job_kind: str
    job_parameters: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    moves: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def plan(cluster: Cluster, kind: str, params: dict[str, Any]) -> Plan:
    """Raises CitusError when the cluster cannot be asked (the caller shows it)."""
    if kind == Kind.REBALANCE:
        return _plan_rebalance(cluster)
    if kind == Kind.SWITCHOVER:
        return _plan_switchover(cluster, params)
    schema, name = params["schema"], params["table"]
    with session(cluster.target()) as sess:
        relid = citus_tables.find_relid(sess, schema, name)
        info = citus_tables.table_info(sess, relid) if relid is not None else None
        qualified = info.qualified if info else f"{schema}.{name}"
        if info is None:
            return Plan(qualified, "", "", {}, problems=[f"There is no table {schema}.{name} on {cluster.name}."])
        if kind == Kind.DISTRIBUTE:
            colocate_with = params.get("colocate_with") or None
            colocation = (
                citus_tables.colocation_of(sess, colocate_with) if colocate_with not in (None, "none") else None
            )
            if colocate_with not in (None, "none") and colocation is None:
                problem = f"{colocate_with} is not a hash-distributed table: it cannot be co-located with."
                return Plan(qualified, "", "", {}, problems=[problem])
            rows = citus_tables.count_rows(sess, info.schema, info.name) if info.kind == "local" else None
            default_shards = int(sess.scalar("SELECT current_setting('citus.shard_count')::int"))
    if kind == Kind.DISTRIBUTE:
        checks = check_distribute(info, params["column"], colocation, colocate_with, exact_rows=rows)
        shards = params.get("shard_count") or (colocation.shard_count if colocation else None) or default_shards
        total_rows = rows if rows is not None else info.estimated_rows
        checks.warnings.append(
            f"{shards} shards: about {total_rows // shards:,} rows and {filesizeformat(info.local_bytes // shards)} "
            "per shard today."
        )
        distribute = kinds.kind("distribute_concurrently")
        job_params = distribute.Params.load(
            {
                "relation": qualified,
                "column": params["column"],
                "shard_count": params.get("shard_count"),
                "colocate_with": colocate_with,
                "concurrently": False,
            }
        )
        return Plan(
            qualified,
            distribute.statement(job_params).as_string(),
            distribute.name,
            job_params.dump(),
            list(checks.problems),
            [w for w in checks.warnings if "runs as a job" not in w],
        )
    if kind == Kind.REFERENCE:
        result = _plan_job(qualified, "make_reference", {"relation": qualified})
        if info.kind not in ("local", "citus_local"):
            result.problems.append(f"{qualified} is already a {info.kind.replace('_', ' ')} table.")
        for fk in info.constraints:
            if fk.kind == "f" and fk.other_kind == "distributed":
                result.problems.append(
                    f"Foreign key {fk.name} references the distributed table {fk.referenced}: a reference table "
                    "cannot reference a distributed table (Citus refuses with 0A000)."
                )
            elif fk.kind == "f" and fk.other_kind == "local":
                result.problems.append(
                    f"Foreign key {fk.name} references the plain table {fk.referenced}: "
                    "make that a reference table first."
                )
        if info.estimated_rows > 0:
            result.warnings.append(
                f"About {info.estimated_rows:,} rows ({filesizeformat(info.local_bytes)}) will be copied to every "
                "node; writes to the table wait until the copy ends."
            )
        return result
    if kind == Kind.SHARD_COUNT:
        count = int(params["shard_count"])
        cascade = bool(params.get("cascade_to_colocated", True))
        result = _plan_job(
            qualified,
            "change_shard_count",
            {"relation": qualified, "shard_count": count, "cascade_to_colocated": cascade},
        )
        if info.kind != "distributed":
            result.problems.append(
                f"{qualified} is a {info.kind.replace('_', ' ')} table: "
                "only hash-distributed tables have a shard count."
            )
        if info.colocated and not cascade:
            result.problems.append(
                f"{qualified} is co-located with {', '.join(info.colocated)}: without cascading to them Citus "
                "breaks the co-location (joins and foreign keys between them stop working)."
            )
        elif info.colocated:
            result.warnings.append(f"Also changes the co-located tables: {', '.join(info.colocated)}.")
        result.warnings.append(
            "alter_distributed_table copies every row into new shards (see the table's size on its page): "
            "writes to the table wait until it ends."
        )
        return result
    if kind == Kind.ANALYZE:
        return _plan_job(qualified, "analyze", {"schema": info.schema, "table": info.name, "relation": qualified})
    raise ValueError(kind)


def _plan_job(target: str, name: str, raw: dict[str, Any]) -> Plan:
    """The job the request becomes, with the statement that job's kind will send."""
    kind = kinds.kind(name)
    params = kind.Params.load(raw)
    return Plan(target, kind.statement(params).as_string(), kind.name, params.dump())


def _plan_rebalance(cluster: Cluster) -> Plan:
    with session(cluster.target()) as sess:
        moves = rebalance.plan(sess)
    result = _plan_job(cluster.name, "rebalance", {})
    result.moves = len(moves)
    if not moves:
        result.problems.append("The cluster is balanced: Citus's plan has no shard moves.")
    else:
        moved = sum(m.shard_size or 0 for m in moves)
        result.warnings.append(f"{len(moves)} shard moves, {filesizeformat(moved)} in all, run in the background.")
    active = Job.objects.filter(cluster=cluster, lock="rebalance", state__in=Job.ACTIVE_STATES).first()
    if active is not None:
        result.problems.append(f"Job {active.pk} ({active.get_kind_display()}) is running: one rebalance at a time.")
    return result


def _plan_switchover(cluster: Cluster, params: dict[str, Any]) -> Plan:
    """The switchover job, checked against what Patroni says now (the same refusals as the HA page)."""
    from django.conf import settings

    from citusadmin.citus import patroni
    from clusters import ha
    from jobs.kinds.switchover import refusal

    group, candidate = int(params["group"]), str(params["candidate"])
    kind = kinds.kind("patroni_switchover")
    job_params = kind.Params.load({"group": group, "candidate": candidate})
    result = Plan(f"group {group}", "\n".join(kind.preview(job_params)), kind.name, job_params.dump())
    if not cluster.has_patroni:
        result.problems.append(f"{cluster.name} is not registered as a Patroni-managed cluster.")
        return result
    topology = patroni.read(ha.access(cluster))
    if why := refusal(topology, group, candidate, settings.PATRONI_LAG_WARN_BYTES):
        result.problems.append(why)
    else:
        found = topology.group(group)
        assert found is not None
        result.statement = str(patroni.switchover_call(found, candidate))
        result.warnings.append(
            "Writes to this group pause for a few seconds while Patroni switches and Citus's pg_dist_node follows."
        )
    active = Job.objects.filter(cluster=cluster, lock="patroni", state__in=Job.ACTIVE_STATES).first()
    if active is not None:
        result.problems.append(f"Job {active.pk} ({active.get_kind_display()}) is running: one switchover at a time.")
    return result
