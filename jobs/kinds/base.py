"""What every job kind declares and implements.

A kind is one class: its name (stored in ``Job.kind``), label, permission, lock, mode, a typed
parameters dataclass, and the statements it sends. The preview page, the self-service request page
and the runner all ask the kind for its statements, so what is previewed is what is sent.

Modes:

- ``BACKGROUND``: Citus runs the work itself (``citus_rebalance_start``); the console starts it with
  ``statement`` (after ``before_start``), supervises it (``jobs.supervisor``) and ends it with
  ``complete``.
- ``BLOCKING``: one session holds ``statement`` until it returns (``jobs.blocking``); ``left_behind``
  may say what a failure leaves in the cluster.
- ``LOCAL``: the worker does it itself (``run``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Self

from psycopg import sql

from citusadmin.perms import Perm

if TYPE_CHECKING:
    from citusadmin.citus import rebalance
    from citusadmin.citus.connection import Session
    from jobs.models import Job


class Mode(StrEnum):
    BACKGROUND = "citus_background"
    BLOCKING = "blocking"
    LOCAL = "local"


@dataclasses.dataclass(frozen=True)
class Params:
    """A kind's parameters. Stored as JSON in ``Job.parameters`` (beside the runner's own bookkeeping
    keys, which ``load`` leaves out)."""

    @classmethod
    def load(cls, raw: Mapping[str, Any] | Params) -> Self:
        if isinstance(raw, cls):
            return raw
        if isinstance(raw, Params):
            raw = raw.dump()
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def dump(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class JobKind:
    name: ClassVar[str]
    label: ClassVar[str]
    perm: ClassVar[Perm]
    mode: ClassVar[Mode]
    # Jobs sharing a non-empty lock cannot be active on one cluster at once (a unique index).
    lock: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    # what the progress counts: Citus background tasks, or the shard moves of a blocking rebalance
    progress_unit: ClassVar[str] = "shard moves"
    # a blocking kind whose moves show in get_rebalance_progress()
    progress_from_rebalancer: ClassVar[bool] = False

    def params(self, job: Job) -> Any:
        return self.Params.load(job.parameters)

    def statement(self, params: Any) -> sql.Composed:
        """The statement that does the work (BACKGROUND: returns the Citus job id)."""
        raise NotImplementedError(f"{type(self).__name__} sends no statement")

    def preview(self, params: Any) -> list[str]:
        """Every statement, in order, as the preview pages show it."""
        return [self.statement(params).as_string()]

    # BACKGROUND ------------------------------------------------------------------------------------
    def before_start(self, sess: Session, job: Job, params: Any) -> None:
        """Checks and preparation sent before ``statement`` (raise ``errors.Refused`` to stop)."""

    def complete(self, sess: Session, job: Job, status: rebalance.CitusJob, summary: str) -> bool:
        """The Citus job finished. False: not done yet (the supervisor polls again)."""
        from jobs.models import Job as JobModel
        from jobs.state import finish

        finish(job, JobModel.State.SUCCEEDED, summary=f"Citus job {status.job_id} finished: {summary}.")
        return True

    def nothing_to_move(self, sess: Session, job: Job) -> None:
        """Citus started no job (nothing to move): the kind finishes what is left to do, if anything."""
        from jobs.models import Job as JobModel
        from jobs.state import finish

        finish(job, JobModel.State.SUCCEEDED, summary="Citus found nothing to move.")

    # BLOCKING --------------------------------------------------------------------------------------
    def left_behind(self, job: Job) -> str:
        """After a failure: what the statement left in the cluster, in words (appended to the error)."""
        return ""

    # LOCAL -----------------------------------------------------------------------------------------
    def run(self, job: Job) -> None:
        raise NotImplementedError(f"{type(self).__name__} is not a local job")

    def __repr__(self) -> str:
        return f"<job kind {self.name}>"
