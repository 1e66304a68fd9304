"""The registry of job kinds: one class per kind in this package, one line here per kind.

How to add one: README, "How to add a job kind".
"""

from __future__ import annotations

from jobs.kinds.analyze import Analyze
from jobs.kinds.base import JobKind, Mode, Params
from jobs.kinds.drain import DrainAndRemove, DrainNode
from jobs.kinds.health import HealthCheck
from jobs.kinds.maintenance import Vacuum
from jobs.kinds.rebalance import Rebalance, RebalanceTable
from jobs.kinds.switchover import Switchover
from jobs.kinds.tables import ChangeShardCount, DistributeConcurrently, MakeReference

KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        Rebalance(),
        RebalanceTable(),
        DrainNode(),
        DrainAndRemove(),
        ChangeShardCount(),
        DistributeConcurrently(),
        MakeReference(),
        Vacuum(),
        Analyze(),
        HealthCheck(),
        Switchover(),
    )
}


def kind(name: str) -> JobKind:
    """The kind stored in a job row (KeyError for a name no class declares)."""
    return KINDS[name]


def choices() -> list[tuple[str, str]]:
    return [(k.name, k.label) for k in KINDS.values()]


__all__ = ["KINDS", "JobKind", "Mode", "Params", "choices", "kind"]
