"""The rebalance preview without a frozen page.

Citus's ``get_rebalance_table_shards_plan()`` took 1.3 s at 1,000 tables (plus 0.7 s of shard sizes),
longer on bigger clusters. The page first asks for the plan with a short limit
(``CITUSADMIN_REBALANCE_PREVIEW_INLINE_MS``): a small cluster answers at once. Beyond it the plan is
computed by a worker (one computation per cluster and options, whoever asks), the page says it is
computing and polls for it; the plan is kept a minute with the time it was computed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from citusadmin.citus import errors, rebalance
from citusadmin.citus.connection import Session, session
from citusadmin.citus.errors import CitusError
from clusters.models import Cluster
from monitoring.shared import key_for

PLAN_SECONDS = 60


@dataclass(frozen=True)
class PlanResult:
    cluster_id: int
    params: dict[str, Any]
    computed_at: datetime
    moves: list[rebalance.PlannedMove] = field(default_factory=list)
    error: CitusError | None = None
    background: bool = False  # computed by a worker for a page that is waiting for it


def plan_key(cluster: Cluster, params: dict[str, Any]) -> str:
    return key_for("plan", cluster.pk, cluster.target().key, json.dumps(params, sort_keys=True, default=str))


def cached(key: str) -> PlanResult | None:
    """A plan a worker computed for a waiting page (kept a minute); never a reason to skip a fresh one."""
    value = caches["shared"].get(key)
    return value if isinstance(value, PlanResult) else None


def just_computed(key: str, seconds: int = 30) -> PlanResult | None:
    """The background plan for this key if it is at most ``seconds`` old (Preview again without
    JavaScript picks it up; later presses compute afresh)."""
    result = cached(key)
    if result is not None and result.background and (timezone.now() - result.computed_at).total_seconds() < seconds:
        return result
    return None


def _plan(sess: Session, params: dict[str, Any]) -> list[rebalance.PlannedMove]:
    return rebalance.plan(
        sess,
        relation=params.get("relation"),
        threshold=params.get("threshold"),
        max_shard_moves=params.get("max_shard_moves"),
        excluded_shards=params.get("excluded_shards"),
        drain_only=bool(params.get("drain_only")),
        strategy=params.get("strategy"),
    )


def compute(cluster: Cluster, params: dict[str, Any], key: str) -> PlanResult:
    """The plan with the console's normal statement timeout (a worker runs this)."""
    try:
        with session(cluster.target()) as sess:
            result = PlanResult(cluster.pk, params, timezone.now(), _plan(sess, params), background=True)
    except CitusError as exc:
        result = PlanResult(cluster.pk, params, timezone.now(), error=exc, background=True)
    caches["shared"].set(key, result, timeout=PLAN_SECONDS)
    caches["shared"].delete(key + ":queued")
    return result


def try_inline(cluster: Cluster, params: dict[str, Any], key: str) -> PlanResult | None:
    """The plan if Citus answers within the inline limit; None when it takes longer (then queue it)."""
    try:
        with session(cluster.target()) as sess, sess.statement_timeout(settings.REBALANCE_PREVIEW_INLINE_MS):
            result = PlanResult(cluster.pk, params, timezone.now(), _plan(sess, params))
    except errors.QueryTimeout:
        return None
    except CitusError as exc:
        result = PlanResult(cluster.pk, params, timezone.now(), error=exc)
    return result


def queue(cluster: Cluster, params: dict[str, Any], key: str) -> None:
    """Publish one computation per key at a time (pressing Preview again adds nothing)."""
    from citusadmin.broker import publish

    if caches["shared"].add(key + ":queued", 1, timeout=settings.CITUS_STATEMENT_TIMEOUT_MS // 1000 + 60):
        try:
            publish("jobs.tasks.compute_rebalance_plan", cluster.pk, params, key)
        except Exception:
            caches["shared"].delete(key + ":queued")
            raise
