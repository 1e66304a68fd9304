"""A Patroni switchover of one Citus group, followed until Citus is back: the leader changes, the
coordinator's ``pg_dist_node`` points at the new leader, and a statement through the coordinator
reaches the group again. Patroni's refusal (a lagging or unknown candidate, a paused group) ends the
job with Patroni's reason; the HTTP request sent is in the audit trail."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus import patroni
from citusadmin.citus.connection import direct_session
from citusadmin.citus.errors import CitusError
from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams
from jobs.models import Job
from jobs.state import application_name, audit_statement, finish, log, update

STEP_TIMEOUT = 90  # seconds for each step (Patroni's own switchover timeout is about a minute)


@dataclass(frozen=True)
class SwitchoverParams(BaseParams):
    group: int = 0
    candidate: str = ""
    scheduled_at: str | None = None  # ISO 8601: Patroni runs it then


def refusal(topology: patroni.Topology, group_number: int, candidate: str, lag_limit: int) -> str | None:
    """Why Patroni would refuse this switchover, in its terms (checked before anything is sent)."""
    group = topology.group(group_number)
    if group is None:
        return f"Patroni manages no group {group_number}."
    member = next((m for m in group.members if m.name == candidate), None)
    if member is None:
        names = ", ".join(m.name for m in group.members) or "none"
        return f"{candidate[:60]!r} is not a member of group {group_number} (members: {names})."
    if member.is_leader:
        return f"{candidate} already leads group {group_number}."
    if group.paused:
        return f"Automatic failover is paused for group {group_number}: resume it first."
    if member.state not in ("running", "streaming"):
        return f"{candidate} is {member.state}: only a running replica can take over."
    if member.lag_bytes is not None and member.lag_bytes > lag_limit:
        return f"{candidate} lags {member.lag_bytes:,} bytes behind (more than {lag_limit:,}): Patroni would refuse."
    if member.tags.get("nofailover"):
        return f"{candidate} is tagged nofailover."
    return None


class Switchover(JobKind):
    name = "patroni_switchover"
    label = "Switchover (Patroni)"
    perm = Perm.PATRONI_SWITCHOVER
    mode = Mode.LOCAL
    lock = "patroni"
    Params = SwitchoverParams
    progress_unit = "steps"

    def preview(self, params: Any) -> list[str]:
        p = self.Params.load(params)
        body = f'{{"leader": <leader of group {p.group}>, "candidate": "{p.candidate}"'
        body += f', "scheduled_at": "{p.scheduled_at}"}}' if p.scheduled_at else "}"
        return [f"POST <leader's Patroni REST API>/switchover {body}"]

    def run(self, job: Job) -> None:
        from django.conf import settings

        from clusters.ha import access

        p = self.Params.load(job.parameters)
        reach = access(job.cluster)
        update(job, progress_total=3, progress_done=0, phase="asking Patroni")
        topology = patroni.read(reach)
        why = refusal(topology, p.group, p.candidate, settings.PATRONI_LAG_WARN_BYTES)
        group = topology.group(p.group)
        if why or group is None:
            finish(job, Job.State.FAILED, error=f"Not sent: {why}")
            return
        old = group.leader_member
        call = patroni.switchover_call(group, p.candidate, _when(p.scheduled_at))
        log(job, f"Sending {call}")
        started = time.monotonic()
        try:
            answer = patroni.send(reach, call)
        except CitusError as exc:
            audit_statement(job, str(call), error=exc)
            finish(job, Job.State.FAILED, error=exc.user_message)
            return
        audit_statement(job, str(call), duration_ms=int((time.monotonic() - started) * 1000))
        log(job, f"Patroni: {answer}")
        if p.scheduled_at:
            finish(job, Job.State.SUCCEEDED, summary=f"Scheduled by Patroni for {p.scheduled_at}: {answer}")
            return
        new = self._wait_leader(job, reach, p, started)
        if new is None:
            return
        if not self._wait_citus(job, p, new, started):
            return
        took = time.monotonic() - started
        finish(
            job,
            Job.State.SUCCEEDED,
            summary=f"Group {p.group}: {old.name if old else '?'} → {new.name} ({new.address}); pg_dist_node "
            f"follows and the group answers through the coordinator, {took:.1f} s after the request.",
        )

    def _wait_leader(self, job: Job, reach: patroni.Access, p: SwitchoverParams, started: float) -> Any:
        update(job, phase="waiting for the new leader", current=p.candidate)
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                group = patroni.read(reach).group(p.group)
            except CitusError:
                group = None  # the DCS or the REST API answers again in a moment
            member = group.leader_member if group else None
            if member is not None and member.name == p.candidate and member.state == "running":
                log(job, f"{p.candidate} leads group {p.group} ({time.monotonic() - started:.1f} s).")
                update(job, progress_done=1)
                return member
            time.sleep(0.5)
        finish(job, Job.State.FAILED, error=f"{p.candidate} did not become the leader within {STEP_TIMEOUT} s.")
        return None

    def _wait_citus(self, job: Job, p: SwitchoverParams, new: patroni.Member, started: float) -> bool:
        update(job, phase="waiting for pg_dist_node", current=new.address)
        deadline = time.monotonic() + STEP_TIMEOUT
        synced = False
        last = ""
        while time.monotonic() < deadline:
            try:
                with direct_session(
                    job.cluster.target(), application_name=application_name(job), statement_timeout_ms=5000
                ) as sess:
                    rows = citus_nodes.list_nodes(sess)
                    primary = next((n for n in rows if n.groupid == p.group and n.noderole == "primary"), None)
                    if primary is not None and primary.address == new.address:
                        if not synced:
                            log(job, f"pg_dist_node points at {new.address} ({time.monotonic() - started:.1f} s).")
                            update(job, progress_done=2, phase="checking traffic")
                            synced = True
                        if p.group == 0 or sess.scalar(
                            "SELECT citus_check_connection_to_node(%s, %s)", (new.host, new.port)
                        ):
                            log(job, f"The coordinator reaches {new.address} ({time.monotonic() - started:.1f} s).")
                            update(job, progress_done=3)
                            return True
            except CitusError as exc:
                if exc.user_message != last:
                    log(job, f"Waiting: {exc.user_message}", "warning")
                    last = exc.user_message
            time.sleep(0.5)
        step = "reaching the group" if synced else "pg_dist_node following the new leader"
        finish(
            job,
            Job.State.FAILED,
            error=f"Patroni switched group {p.group} to {new.name}, but {step} did not happen within "
            f"{STEP_TIMEOUT} s. Check the HA page: Nodes → Move can point Citus at {new.address}.",
        )
        return False


def _when(text: str | None) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text) if text else None
