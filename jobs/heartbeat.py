"""Heartbeats of Celery workers and beat, and the question every page asks: is anything running jobs?

A thread in the worker's (or beat's) main process upserts its row every ``WORKER_HEARTBEAT_SECONDS``;
a process that dies stops writing, and after ``WORKER_STALE_SECONDS`` the console says so (a red
banner on every page, a red Health check, "no worker is running" on a waiting job). ``./run``
restarts the process (supervisord); the row's ``started_at`` then shows the restart.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import signals
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)
_stop = threading.Event()


def beat(name: str, kind: str, queues: str = "", started_at: datetime | None = None) -> None:
    from jobs.models import WorkerHeartbeat

    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        name=name,
        defaults={
            "kind": kind,
            "queues": queues[:300],
            "pid": os.getpid(),
            "seen_at": now,
            "stopped_at": None,
            **({"started_at": started_at} if started_at else {}),
        },
        create_defaults={"kind": kind, "queues": queues[:300], "pid": os.getpid(), "seen_at": now, "started_at": now},
    )


def _loop(name: str, kind: str, queues: str) -> None:
    started = timezone.now()
    first = True
    while not _stop.is_set():
        try:
            close_old_connections()
            beat(name, kind, queues, started_at=started if first else None)
            first = False
        except Exception:  # the database may be away for a moment; the next beat tries again
            logger.exception("heartbeat of %s could not be written", name)
        _stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


def start(name: str, kind: str, queues: str = "") -> None:
    threading.Thread(target=_loop, args=(name, kind, queues), name="citusadmin-heartbeat", daemon=True).start()


def stopped(name: str) -> None:
    from jobs.models import WorkerHeartbeat

    _stop.set()
    try:
        WorkerHeartbeat.objects.filter(name=name).update(stopped_at=timezone.now())
    except Exception:
        logger.exception("could not record that %s stopped", name)


@signals.worker_ready.connect
def _worker_ready(sender: Any = None, **kwargs: Any) -> None:
    name = str(getattr(sender, "hostname", "") or socket.gethostname())
    try:
        queues = ",".join(sorted(q.name for q in sender.task_consumer.queues))
    except AttributeError:
        queues = ""
    start(name, "worker", queues)


@signals.worker_shutdown.connect
def _worker_shutdown(sender: Any = None, **kwargs: Any) -> None:
    stopped(str(getattr(sender, "hostname", "") or socket.gethostname()))


@signals.beat_init.connect
def _beat_init(sender: Any = None, **kwargs: Any) -> None:
    start(f"beat@{socket.gethostname()}", "beat")


@dataclass(frozen=True)
class WorkerStatus:
    """What the console knows about its background processes, for banners and the Health page."""

    worker_seen_at: datetime | None
    beat_seen_at: datetime | None
    stale_after: int

    @property
    def worker_alive(self) -> bool:
        return self.worker_seen_at is not None and timezone.now() - self.worker_seen_at < timedelta(
            seconds=self.stale_after
        )

    @property
    def beat_alive(self) -> bool:
        return self.beat_seen_at is not None and timezone.now() - self.beat_seen_at < timedelta(
            seconds=self.stale_after
        )


def cached_status() -> WorkerStatus:
    """The banner's view: at most one query per process every few seconds, however many viewers."""
    from django.core.cache import cache

    value = cache.get(_CACHE_KEY)
    if value is None:
        value = status()
        cache.set(_CACHE_KEY, value, 5)
    return value


_CACHE_KEY = "citusadmin:worker-status"


def status() -> WorkerStatus:
    """One app-database query: the newest heartbeat of each kind."""
    from django.db.models import Max

    from jobs.models import WorkerHeartbeat

    seen = dict(
        WorkerHeartbeat.objects.filter(stopped_at__isnull=True)
        .values_list("kind")
        .annotate(last=Max("seen_at"))
        .values_list("kind", "last")
    )
    return WorkerStatus(
        worker_seen_at=seen.get("worker"), beat_seen_at=seen.get("beat"), stale_after=settings.WORKER_STALE_SECONDS
    )
