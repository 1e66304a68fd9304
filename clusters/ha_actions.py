"""Patroni operations other than a switchover (which is a job): restart, reinitialize, pause and
resume. Each is audited with the HTTP request sent and Patroni's answer, or its refusal."""

from __future__ import annotations

from audit.actions import audited
from audit.names import Action
from citusadmin.citus import patroni
from citusadmin.perms import Actor, Perm
from clusters import ha
from clusters.models import Cluster

ACTIONS = {
    "restart": Action.PATRONI_RESTART,
    "reinitialize": Action.PATRONI_REINITIALIZE,
    "pause": Action.PATRONI_PAUSE,
    "resume": Action.PATRONI_RESUME,
}


def do_patroni_call(actor: Actor, cluster: Cluster, op: str, call: patroni.HttpCall, target: str) -> str:
    """Send ``call`` (built from the topology the preview showed); Patroni's answer in words."""
    with audited(
        actor,
        ACTIONS[op],
        perm=Perm.PATRONI_MANAGE,
        cluster=cluster,
        target=target,
        parameters={"request": str(call)},
        atomic=False,
    ) as entry:
        entry.sql.append(str(call))  # the audit entry's "sent": the HTTP request, as sent
        answer = patroni.send(ha.access(cluster), call)
        entry.result = answer[:300]
    return answer


def plan(group: patroni.Group, op: str, member_name: str = "") -> tuple[patroni.HttpCall | None, str | None, str]:
    """The HTTP request an operation sends (the page and the API alike), why it is refused if it is,
    and what it acts on (for the audit entry)."""
    if op in ("pause", "resume"):
        why = None
        if group.paused == (op == "pause"):
            why = f"Automatic failover of this group is already {'paused' if group.paused else 'on'}."
        return patroni.pause_call(group, op == "pause"), why, f"group {group.group}"
    member = next((m for m in group.members if m.name == member_name), None)
    if member is None:
        return None, f"{member_name or 'No member'} is not a member of group {group.group}.", member_name
    if op == "reinitialize" and member.is_leader:
        why = f"{member_name} is the leader: Patroni reinitializes replicas only (switch over first)."
        return None, why, member_name
    call = patroni.restart_call(member) if op == "restart" else patroni.reinitialize_call(member)
    return call, None, member_name
