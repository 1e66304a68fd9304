"""Is each node reachable now? One background measurement per cluster every few seconds (beat,
``CITUSADMIN_REACH_PROBE_SECONDS``), read by the Overview, the Nodes page and Health alike, so they
tell one story with one time: a stopped worker shows everywhere within seconds, and the banner
clears as soon as it answers. Page views send nothing for it; a probe that beat queued while the
worker was away expires instead of piling up. Without a recent probe, pages fall back to the
collector's measurement and say how old it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone


@dataclass(frozen=True)
class LiveReach:
    measured_at: datetime
    nodes: dict[int, bool] = field(default_factory=dict)  # nodeid -> reachable
    error: str = ""  # the coordinator itself could not be asked

    @property
    def fresh(self) -> bool:
        return timezone.now() - self.measured_at < timedelta(seconds=settings.REACH_PROBE_SECONDS * 3)


def _key(cluster_id: int) -> str:
    return f"reach:{cluster_id}"


def store(cluster_id: int, reach: LiveReach) -> None:
    caches["shared"].set(_key(cluster_id), reach, timeout=max(settings.REACH_PROBE_SECONDS * 30, 120))


def latest(cluster_id: int) -> LiveReach | None:
    """The latest probe while it is fresh (a few probe intervals); None otherwise."""
    reach = caches["shared"].get(_key(cluster_id))
    return reach if isinstance(reach, LiveReach) and reach.fresh else None


def probe(cluster_id: int) -> LiveReach:
    """One coordinator statement with short timeouts: the coordinator connects to every node."""
    from citusadmin.citus import monitoring, stats
    from citusadmin.citus.connection import direct_session
    from citusadmin.citus.errors import CitusError
    from clusters.models import Cluster

    cluster = Cluster.objects.get(pk=cluster_id)
    try:
        with (
            direct_session(cluster.target(), application_name="citusadmin/reach", statement_timeout_ms=5_000) as sess,
            monitoring.fanout(sess),
        ):
            rows = stats.reachability(sess)
        reach = LiveReach(timezone.now(), {r.nodeid: bool(r.reachable) for r in rows})
    except CitusError as exc:
        reach = LiveReach(timezone.now(), {}, exc.as_text())
    store(cluster_id, reach)
    return reach
