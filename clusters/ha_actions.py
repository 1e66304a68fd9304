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
