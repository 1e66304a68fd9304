"""A health check now: the collector's pass, run by a worker, reporting the nodes that did not answer."""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams
from jobs.models import Job
from jobs.state import finish


@dataclass(frozen=True)
class HealthParams(BaseParams):
    pass


class HealthCheck(JobKind):
    name = "health_check"
    label = "Health check"
    perm = Perm.COLLECT_NOW
    mode = Mode.LOCAL
    Params = HealthParams

    def preview(self, params: object) -> list[str]:
        return ["(reads the catalog and measures every node; changes nothing)"]

    def run(self, job: Job) -> None:
        from monitoring.collector import collect

        collection = collect(job.cluster, trigger="manual")
        if not collection.ok:
            finish(job, Job.State.FAILED, error=collection.error)
            return
        unreachable = [n.address for n in collection.nodes.all() if n.reachable is False]
        summary = ("Unreachable: " + ", ".join(unreachable)) if unreachable else "Every node answered."
        finish(job, Job.State.SUCCEEDED, summary=summary)
