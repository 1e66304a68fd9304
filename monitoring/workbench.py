"""Reading a Citus EXPLAIN (FORMAT JSON): how the query runs, in words, and what to change.

Citus's plan nodes: a ``Custom Scan`` with ``Custom Plan Provider`` "Citus Adaptive" (or "Citus
INSERT ... SELECT" with an ``INSERT/SELECT method``), holding ``Distributed Query`` -> ``Job``
(``Task Count``, ``Tasks Shown``, ``Tasks`` with their ``Node`` and ``Remote Plan``, ``Dependent
Jobs`` for a repartition) and ``Subplans`` (recursive planning: run first, their results sent to
the nodes). Shard ids are read from the shard relation names in the remote plans (``orders_102008``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pglast import ast as pg_ast
from pglast.visitors import Visitor

from citusadmin.citus.explain import Checked, TableFacts

SMALL_TABLE_ROWS = 10_000  # below this, a table joined from every shard is a reference-table candidate


@dataclass
class Task:
    node: str  # host:port
    shards: list[int]
    time_ms: float | None = None
    rows: float | None = None


@dataclass
class Step:
    """One distributed step: the main query, or a subplan run first."""

    provider: str
    task_count: int | None
    tasks_shown: str
    tasks: list[Task]
    dependent_jobs: int = 0
    insert_select_method: str | None = None


@dataclass
class Join:
    left: str
    right: str
    left_column: str
    right_column: str
    verdict: str  # colocated, reference, local, repartition, mismatch
    words: str


@dataclass
class Advice:
    text: str
    action: str = ""  # what the link does, in words
    table: TableFacts | None = None
    op: str = ""  # "reference" or "alter" (a table operation) or "" (no link)


@dataclass
class Reading:
    shape: str  # router, multi_shard, repartition, insert_select_pushdown, insert_select_coordinator,
    # insert_select_repartition, recursive, local
    title: str
    words: list[str]
    steps: list[Step]
    subplans: int
    nodes: list[str]
    shards: list[int]
    tables: list[TableFacts]
    joins: list[Join]
    advice: list[Advice] = field(default_factory=list)
    per_node: list[dict[str, Any]] = field(default_factory=list)  # ANALYZE: tasks, time per node
    slowest: list[Task] = field(default_factory=list)
    total_ms: float | None = None


_NODE = re.compile(r"host=(\S+) port=(\d+)")
_SHARD = re.compile(r"_(\d{5,})$")


def _address(node: str) -> str:
    found = _NODE.search(node or "")
    return f"{found.group(1)}:{found.group(2)}" if found else (node or "?")


def _walk(value: Any) -> Any:
    """Every dict in a plan, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _task(raw: dict[str, Any]) -> Task:
    shards = sorted(
        {
            int(m.group(1))
            for d in _walk(raw.get("Remote Plan"))
            if isinstance(d.get("Relation Name"), str)
            for m in [_SHARD.search(d["Relation Name"])]
            if m
        }
    )
    time_ms = rows = None
    for top in _walk(raw.get("Remote Plan")):
        if "Execution Time" in top:
            time_ms = float(top["Execution Time"])
        if "Plan" in top and isinstance(top["Plan"], dict) and "Actual Total Time" in top["Plan"]:
            time_ms = time_ms if time_ms is not None else float(top["Plan"]["Actual Total Time"])
            rows = float(top["Plan"].get("Actual Rows", 0))
        if time_ms is not None:
            break
    return Task(_address(str(raw.get("Node", ""))), shards, time_ms, rows)


def _steps(plan: Any) -> tuple[list[Step], int]:
    steps: list[Step] = []
    subplans = 0
    for node in _walk(plan):
        provider = node.get("Custom Plan Provider")
        if not isinstance(provider, str) or not provider.startswith("Citus"):
            continue
        query = node.get("Distributed Query") or {}
        subplans += len(query.get("Subplans") or [])
        job = query.get("Job") or {}
        if provider != "Citus Adaptive" and not job:
            steps.append(Step(provider, None, "", [], 0, node.get("INSERT/SELECT method")))
            continue
        steps.append(
            Step(
                provider,
                job.get("Task Count"),
                str(job.get("Tasks Shown", "")),
                [_task(t) for t in job.get("Tasks") or []],
                len(job.get("Dependent Jobs") or []),
                node.get("INSERT/SELECT method"),
            )
        )
    return steps, subplans


class _Equalities(Visitor):
    """``a.x = b.y`` between two tables, from JOIN ... ON and WHERE."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[tuple[str, str], tuple[str, str]]] = []
        self.aliases: dict[str, str] = {}
        self.filters: list[tuple[str, str]] = []  # (alias or table, column) = constant

    def visit_RangeVar(self, ancestors: Any, node: pg_ast.RangeVar) -> None:
        name = f"{node.schemaname}.{node.relname}" if node.schemaname else str(node.relname)
        alias = node.alias.aliasname if node.alias is not None else str(node.relname)
        self.aliases[str(alias)] = name
        self.aliases.setdefault(str(node.relname), name)

    def visit_A_Expr(self, ancestors: Any, node: pg_ast.A_Expr) -> None:
        names = [n.sval for n in node.name or ()]
        if names != ["="]:
            return
        left, right = _column(node.lexpr), _column(node.rexpr)
        if left and right:
            self.pairs.append((left, right))
        elif left and isinstance(node.rexpr, (pg_ast.A_Const, pg_ast.ParamRef)):
            self.filters.append(left)
        elif right and isinstance(node.lexpr, (pg_ast.A_Const, pg_ast.ParamRef)):
            self.filters.append(right)


def _column(expr: Any) -> tuple[str, str] | None:
    if not isinstance(expr, pg_ast.ColumnRef):
        return None
    parts = [str(f.sval) for f in expr.fields or () if isinstance(f, pg_ast.String)]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    if len(parts) == 1:
        return "", parts[0]
    return None


def _joins(checked: Checked, facts: dict[str, TableFacts]) -> tuple[list[Join], list[tuple[str, str]]]:
    seen = _Equalities()
    seen(checked.tree)
    joins = []
    for (la, lc), (ra, rc) in seen.pairs:
        left, right = seen.aliases.get(la), seen.aliases.get(ra)
        if not left or not right or left == right:
            continue
        lf, rf = facts.get(left), facts.get(right)
        if lf is None or rf is None:
            continue
        joins.append(_judge(lf, lc, rf, rc))
    filters = [(seen.aliases.get(a, a) if a else next(iter(facts), ""), c) for a, c in seen.filters]
    return joins, filters


def _judge(lf: TableFacts, lc: str, rf: TableFacts, rc: str) -> Join:
    pair = f"{lf.name}.{lc} = {rf.name}.{rc}"
    kinds = {lf.kind, rf.kind}
    if "reference" in kinds:
        return Join(lf.name, rf.name, lc, rc, "reference", f"{pair}: joined with a reference table, on each node.")
    if lf.kind == rf.kind == "distributed":
        on_keys = lc == lf.distribution_column and rc == rf.distribution_column
        if on_keys and lf.colocation_id == rf.colocation_id:
            return Join(
                lf.name, rf.name, lc, rc, "colocated", f"{pair}: co-located, joined shard by shard on each node."
            )
        if on_keys:
            return Join(
                lf.name,
                rf.name,
                lc,
                rc,
                "mismatch",
                f"{pair}: both distribution columns, but in different co-location groups "
                f"({lf.colocation_id} and {rf.colocation_id}): Citus repartitions one side.",
            )
        return Join(
            lf.name,
            rf.name,
            lc,
            rc,
            "repartition",
            f"{pair}: not on both distribution columns ({lf.name} is distributed by {lf.distribution_column}, "
            f"{rf.name} by {rf.distribution_column}): Citus repartitions or pulls rows to the coordinator.",
        )
    return Join(lf.name, rf.name, lc, rc, "local", f"{pair}: involves a {lf.kind}/{rf.kind} table.")


def read(
    plan: list[dict[str, Any]],
    checked: Checked,
    facts: list[TableFacts],
    *,
    analyzed: bool,
    repartition_joins_enabled: bool = True,
) -> Reading:
    """The plan in words, the tables and joins, and advice from facts."""
    steps, subplans = _steps(plan)
    by_name = {f.name: f for f in facts}
    joins, filters = _joins(checked, by_name)
    tables = [f for f in facts if f.kind != "missing"]
    nodes = sorted({t.node for s in steps for t in s.tasks})
    shards = sorted({sh for s in steps for t in s.tasks for sh in t.shards})
    main = steps[0] if steps else None
    words: list[str] = []
    if main is None:
        shape, title = "local", "PostgreSQL only: no distributed table is involved"
        words.append("The coordinator runs this query by itself, like plain PostgreSQL.")
    elif main.insert_select_method == "pull to coordinator":
        shape, title = "insert_select_coordinator", "INSERT ... SELECT via the coordinator"
        words.append(
            "Citus runs the SELECT, collects every row on the coordinator, then sends them to the target shards: "
            "the slowest INSERT ... SELECT."
        )
    elif main.insert_select_method == "repartition":
        shape, title = "insert_select_repartition", "INSERT ... SELECT with repartitioning"
        words.append(
            "Citus runs the SELECT on every shard and sends each row straight to the node of its target shard "
            "(no trip through the coordinator)."
        )
    elif checked.kind == "insert" and main.task_count:
        shape, title = "insert_select_pushdown", "INSERT ... SELECT pushed down"
        words.append(f"Each of the {main.task_count} shard pairs copies its rows on its own node: the fastest way.")
    elif main.dependent_jobs or any(s.dependent_jobs for s in steps):
        shape, title = "repartition", "Repartition join"
        words.append(
            f"Citus reshuffles rows between the nodes ({main.dependent_jobs} map/merge job(s)) before joining: "
            "correct, but it moves data; co-locating the tables avoids it."
        )
        if not repartition_joins_enabled:
            words.append(
                "This cluster has citus.enable_repartition_joins off: run as it is, the query fails with "
                '"the query contains a join that requires repartitioning" (the plan above was made with it on). '
                "Co-locate the tables, or SET citus.enable_repartition_joins = on in the session."
            )
    elif main.task_count == 1:
        shape, title = "router", "Router query: one shard"
        where = f" on {main.tasks[0].node}" if main.tasks else ""
        words.append(f"Citus sends the whole query to the one shard that holds the rows{where}.")
    else:
        shape, title = "multi_shard", f"Multi-shard query: {main.task_count} tasks in parallel"
        words.append(
            f"Citus runs a task on each of {main.task_count} shards in parallel and merges the results on the "
            "coordinator."
        )
    if subplans:
        shape = "recursive" if shape in ("multi_shard", "router") else shape
        words.append(
            f"Recursive planning: {subplans} subquery/CTE result(s) are computed first and sent to the nodes "
            "as intermediate results, then the rest runs."
        )
        title += f", with {subplans} subplan(s)"
    if main is not None and main.tasks_shown and main.tasks_shown not in ("All",):
        words.append(f"Tasks shown: {main.tasks_shown}.")
    reading = Reading(shape, title, words, steps, subplans, nodes, shards, tables, joins)
    reading.advice = _advice(reading, checked, by_name, filters)
    if analyzed:
        _timings(reading, plan)
    return reading


def _advice(
    reading: Reading, checked: Checked, facts: dict[str, TableFacts], filters: list[tuple[str, str]]
) -> list[Advice]:
    advice: list[Advice] = []
    distributed = [f for f in facts.values() if f.kind == "distributed"]
    filtered = {(table, column) for table, column in filters}
    if reading.shape in ("multi_shard", "recursive") and checked.kind != "insert":
        unfiltered = [t for t in distributed if (t.name, t.distribution_column) not in filtered]
        if unfiltered and len(unfiltered) == len(distributed):
            table = unfiltered[0]
            advice.append(
                Advice(
                    f"Add {table.name}.{table.distribution_column} = ... to the WHERE clause to route this "
                    f"query to one shard of {table.name} instead of all {table.shard_count}"
                    + (" (its co-located tables follow)." if len(distributed) > 1 else ".")
                )
            )
    for join in reading.joins:
        if join.verdict not in ("repartition", "mismatch"):
            continue
        left, right = facts[join.left], facts[join.right]
        small = min((left, right), key=lambda f: f.estimated_rows)
        if small.estimated_rows < SMALL_TABLE_ROWS:
            advice.append(
                Advice(
                    f"{small.name} is small (about {small.estimated_rows:,} rows) and joined from every shard: "
                    "make it a reference table (a copy on every node), and the join runs locally everywhere.",
                    "Make a reference table",
                    small,
                    "reference",
                )
            )
            continue
        target, other, column = (right, left, join.right_column)
        advice.append(
            Advice(
                f"{join.left} and {join.right} are joined on {join.left}.{join.left_column} = "
                f"{join.right}.{join.right_column} but distributed on {left.distribution_column} / "
                f"{right.distribution_column}: distribute {target.name} by {column} and co-locate it with "
                f"{other.name}, and the join runs shard by shard without moving rows.",
                "Change the distribution column and co-location",
                target,
                "alter",
            )
        )
    if reading.shape == "insert_select_coordinator":
        advice.append(
            Advice(
                "Rows travel through the coordinator: make the target and source co-located and select the target's "
                "distribution column unchanged (no LIMIT, ORDER BY or window over all rows), and Citus pushes the "
                "INSERT ... SELECT down to each shard."
            )
        )
    return advice


def _timings(reading: Reading, plan: list[dict[str, Any]]) -> None:
    tasks = [t for s in reading.steps for t in s.tasks if t.time_ms is not None]
    per: dict[str, dict[str, Any]] = {}
    for t in tasks:
        row = per.setdefault(t.node, {"node": t.node, "tasks": 0, "time_ms": 0.0, "max_ms": 0.0, "rows": 0.0})
        row["tasks"] += 1
        row["time_ms"] += t.time_ms or 0
        row["max_ms"] = max(row["max_ms"], t.time_ms or 0)
        row["rows"] += t.rows or 0
    reading.per_node = sorted(per.values(), key=lambda r: -r["time_ms"])
    reading.slowest = sorted(tasks, key=lambda t: -(t.time_ms or 0))[:5]
    top = plan[0] if plan else {}
    total = top.get("Execution Time")
    reading.total_ms = float(total) if total is not None else None


@dataclass
class TreeNode:
    label: str
    detail: str
    children: list[TreeNode] = field(default_factory=list)
    citus: bool = False


MAX_TREE_NODES = 400


def tree(plan: list[dict[str, Any]]) -> list[TreeNode]:
    """The plan as a tree for the page: PostgreSQL's nodes, Citus's distributed job with its subplans
    and the tasks it shows (each with its node and remote plan). Bounded to MAX_TREE_NODES."""
    budget = [MAX_TREE_NODES]

    def node(raw: dict[str, Any]) -> TreeNode | None:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        kind = str(raw.get("Node Type", "?"))
        provider = raw.get("Custom Plan Provider")
        label = f"{kind} ({provider})" if provider else kind
        relation = raw.get("Relation Name")
        if relation:
            label += f" on {raw.get('Schema', '')}.{relation}".replace(" on .", " on ")
        parts = []
        if "Actual Total Time" in raw:
            parts.append(f"{float(raw['Actual Total Time']):.2f} ms, {raw.get('Actual Rows', 0)} rows")
        else:
            parts.append(f"cost {raw.get('Total Cost', 0)}, ~{raw.get('Plan Rows', 0)} rows")
        for key in ("Index Name", "Filter", "Index Cond", "Hash Cond", "Join Filter"):
            if key in raw:
                parts.append(f"{key}: {raw[key]}")
        out = TreeNode(label, "; ".join(parts), citus=bool(provider))
        query = raw.get("Distributed Query") or {}
        for i, sub in enumerate(query.get("Subplans") or [], 1):
            child = TreeNode(f"Subplan {i} (run first, its result sent to the nodes)", "", citus=True)
            for stmt in sub.get("PlannedStmt") or []:
                found = node(stmt.get("Plan") or {})
                if found:
                    child.children.append(found)
            out.children.append(child)
        job = query.get("Job")
        if job:
            detail = f"{job.get('Task Count')} task(s); shown: {job.get('Tasks Shown')}"
            if job.get("Dependent Jobs"):
                detail += f"; {len(job['Dependent Jobs'])} repartition job(s)"
            job_node = TreeNode("Distributed job", detail, citus=True)
            for raw_task in job.get("Tasks") or []:
                task = _task(raw_task)
                shards = ", ".join(str(s) for s in task.shards) or "?"
                task_node = TreeNode(
                    f"Task on {task.node}",
                    f"shards {shards}" + (f"; {task.time_ms:.2f} ms" if task.time_ms is not None else ""),
                    citus=True,
                )
                for remote in _walk(raw_task.get("Remote Plan")):
                    if isinstance(remote.get("Plan"), dict):
                        found = node(remote["Plan"])
                        if found:
                            task_node.children.append(found)
                        break
                job_node.children.append(task_node)
            out.children.append(job_node)
        for child_raw in raw.get("Plans") or []:
            found = node(child_raw)
            if found:
                out.children.append(found)
        return out

    roots = [node(entry.get("Plan") or {}) for entry in plan if isinstance(entry, dict)]
    return [r for r in roots if r is not None]


def save(
    user: Any, cluster: Any, checked: Checked, result: Any, facts: list[TableFacts], reading: Reading, name: str
) -> Any:
    """Keep this run for the user (the newest SavedExplain.SAVED_PER_USER per cluster stay)."""
    import dataclasses

    from monitoring.models import SavedExplain

    saved = SavedExplain.objects.create(
        user=user,
        cluster=cluster,
        name=name.strip()[:100],
        query=checked.text,
        analyzed=result.analyzed,
        plan=result.plan,
        facts=[dataclasses.asdict(f) for f in facts],
        repartition_joins_enabled=result.repartition_joins_enabled,
        shape=reading.shape,
        title=reading.title[:200],
        total_ms=reading.total_ms,
    )
    keep = SavedExplain.objects.filter(user=user, cluster=cluster).values_list("pk", flat=True)[
        : SavedExplain.SAVED_PER_USER
    ]
    SavedExplain.objects.filter(user=user, cluster=cluster).exclude(pk__in=list(keep)).delete()
    return saved


@dataclass
class Side:
    saved: Any
    reading: Reading
    tree: list[TreeNode]


def reread(saved: Any) -> Side:
    """A saved plan read again as it was (its tables' facts as they were then)."""
    from citusadmin.citus.explain import check

    checked = check(saved.query, analyze=False)
    facts = [TableFacts(**f) for f in saved.facts]
    reading = read(
        saved.plan,
        checked,
        facts,
        analyzed=saved.analyzed,
        repartition_joins_enabled=saved.repartition_joins_enabled,
    )
    return Side(saved, reading, tree(saved.plan))
