"""Publishing Celery tasks with a clear error when the broker is down (never a 500)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The task could not be queued; nothing was started."""

    kind = "broker"

    def __init__(self, detail: str) -> None:
        self.user_message = "The job queue (Celery broker) is not reachable, so nothing was started."
        self.primary = detail
        self.detail = ""
        self.hint = "Check that Redis (CITUSADMIN_REDIS_URL) is running, then try again."
        self.sqlstate = None
        super().__init__(self.user_message)

    def as_text(self) -> str:
        return f"{self.user_message} {self.primary}"


# Tasks that measure clusters; they go to "<default queue>.collect", consumed by a worker of their own.
COLLECT_TASKS = frozenset(
    {
        "monitoring.tasks.collect_all",
        "monitoring.tasks.collect_cluster",
        "monitoring.tasks.probe_reachability",
        "monitoring.tasks.alerts",
        "clusters.tasks.probe_all_clusters",
        "clusters.tasks.watch_patroni",
    }
)


def queue_for(app: Any, task_name: str) -> str:
    default = str(app.conf.task_default_queue)
    return f"{default}.collect" if task_name in COLLECT_TASKS else default


def route_task(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
    """Celery router (CELERY_TASK_ROUTES): measurements and jobs never share a queue."""
    from citusadmin.celery import app

    return {"queue": queue_for(app, name)}


def publish(task: Task | str, *args: Any, countdown: float | None = None) -> None:
    """Queue ``task`` (a task, or its name: the caller need not import the tasks module) now on a fresh
    broker connection, failing fast (the user is waiting)."""
    from citusadmin.celery import app

    name = task if isinstance(task, str) else task.name
    try:
        with app.connection_for_write(connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            options: dict[str, Any] = {"retry": False, "connection": conn, "queue": queue_for(app, name)}
            if countdown is not None:
                options["countdown"] = countdown
            app.send_task(name, args=args, **options)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, OSError...
        logger.warning("could not queue %s: %s", name, exc)
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
