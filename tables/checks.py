"""Distribution pre-checks: what Citus would refuse, said before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from citusadmin.citus.tables import Colocation, TableInfo


@dataclass
class Checks:
    problems: list[str] = field(default_factory=list)  # Citus would refuse: not sent
    warnings: list[str] = field(default_factory=list)  # it will work, with consequences

    @property
    def ok(self) -> bool:
        return not self.problems


def check_distribute(
    info: TableInfo,
    column: str,
    colocate: Colocation | None,
    colocate_name: str | None,
    exact_rows: int | None = None,
) -> Checks:
    checks = Checks()
    if info.kind not in ("local", "citus_local"):
        checks.problems.append(
            f"{info.qualified} is already a {info.kind.replace('_', ' ')} table "
            "(Citus would refuse with 42P16). Use alter or undistribute instead."
        )
    col = next((c for c in info.columns if c.name == column), None)
    if col is None:
        checks.problems.append(f"{info.qualified} has no column {column!r}.")
        return checks
    for con in info.constraints:
        if con.kind in ("p", "u", "x") and column not in (con.columns or []):
            label = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint"}[con.kind]
            checks.problems.append(
                f"The {label} {con.name} ({', '.join(con.columns or [])}) does not include {column}: every primary "
                "key, unique and exclusion constraint must include the distribution column (Citus refuses with "
                "0A000). Add the column to the constraint, or choose a column it contains."
            )
    for fk in info.constraints:
        if fk.kind != "f":
            continue
        if fk.other_kind == "local":
            checks.problems.append(
                f"Foreign key {fk.name} references the plain table {fk.referenced}: make that a "
                "reference table (or distribute it co-located) first."
            )
        elif fk.other_kind == "distributed" and (colocate is None or fk.other_colocation != colocate.colocation_id):
            checks.problems.append(
                f"Foreign key {fk.name} references the distributed table {fk.referenced}: "
                f"co-locate with it (colocate with {fk.referenced}) and include {column} in the key."
            )
        elif fk.other_kind == "distributed" and column not in (fk.columns or []):
            checks.problems.append(f"Foreign key {fk.name} must include the distribution column {column}.")
    for fk in info.referencing:
        if fk.other_kind == "local":
            checks.problems.append(
                f"The plain table {fk.referenced} has a foreign key ({fk.name}) to this table; "
                "a local table cannot reference a distributed one. Distribute it co-located "
                "afterwards in the same way, or drop the foreign key."
            )
    if colocate is not None and colocate.column_type and colocate.column_type != col.type.split("(")[0]:
        checks.problems.append(
            f"{colocate_name} is distributed by a {colocate.column_type} column; {column} is "
            f"{col.type}. Co-located tables need the same distribution column type."
        )
    rows = f"{exact_rows:,} rows" if exact_rows is not None else f"about {info.estimated_rows:,} rows (estimate)"
    if (exact_rows or info.estimated_rows) > 0:
        checks.warnings.append(
            f"{rows} ({filesizeformat(info.local_bytes)}) will be copied into the shards. "
            "create_distributed_table takes an ExclusiveLock: reads go on, writes wait until the copy ends. "
            "The local copy stays on disk until truncate_local_data_after_distributing_table. To roll back, "
            "undistribute the table."
        )
    if info.local_bytes > settings.DISTRIBUTE_JOB_BYTES:
        checks.warnings.append(f"Above {filesizeformat(settings.DISTRIBUTE_JOB_BYTES)}: it runs as a job.")
    return checks
