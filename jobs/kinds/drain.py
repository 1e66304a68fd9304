"""Drain a node (Citus moves its shards away in a background job), and drain-and-remove.

The drain is ``citus_rebalance_start(drain_only => true)``, which drains every node marked
should-have-shards = false: the kind first refuses when another such node still holds shards, then
marks this one. Drain-and-remove removes the node once Citus has dropped what the moves left on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from psycopg import sql

from citusadmin.citus import cleanup, errors, rebalance
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import Session
from citusadmin.perms import Perm
from jobs.kinds.base import JobKind, Mode
from jobs.kinds.base import Params as BaseParams
from jobs.models import Job
from jobs.state import finish, log, send, update


@dataclass(frozen=True)
class DrainParams(BaseParams):
    nodeid: int = 0
    transfer_mode: str | None = None
    strategy: str | None = None


def other_marked_nodes(nodes: list[citus_nodes.Node], nodeid: int) -> list[str]:
    """Nodes Citus would drain too: marked should-have-shards = false and still holding shards."""
    return [n.address for n in nodes if n.nodeid != nodeid and not n.shouldhaveshards and n.data_placements > 0]


def targets(nodes: list[citus_nodes.Node], nodeid: int) -> list[str]:
    """Where the drained shards may go: the other active nodes that should have shards."""
    return [n.address for n in nodes if n.nodeid != nodeid and n.shouldhaveshards and n.isactive]


def refusal(nodes: list[citus_nodes.Node], nodeid: int) -> str | None:
    """Why a drain of ``nodeid`` must not start now (the page and the API say the same)."""
    if others := other_marked_nodes(nodes, nodeid):
        return (
            f"Citus would drain {', '.join(others)} too (marked should-have-shards = false and still holding "
            "shards): set should-have-shards back on them first."
        )
    if not targets(nodes, nodeid):
        return "No other active node may receive shards: add or activate a node first."
    return None


class DrainNode(JobKind):
    name = "drain_node"
    label = "Drain a node"
    perm = Perm.DRAIN_NODE
    mode = Mode.BACKGROUND
    lock = "rebalance"
    Params = DrainParams
    progress_unit = "tasks"

    def statement(self, params: Any) -> sql.Composed:
        p = self.Params.load(params)
        return rebalance.start_sql(drain_only=True, transfer_mode=p.transfer_mode, strategy=p.strategy)

    def steps(self, node: citus_nodes.Node, params: Any) -> list[str]:
        """What the drain page previews for this node, in order."""
        steps = []
        if node.shouldhaveshards:
            steps.append(
                citus_nodes.render(citus_nodes.set_should_have_shards_sql(node.nodename, node.nodeport, False))
            )
        steps.append(self.statement(params).as_string())
        return steps

    def before_start(self, sess: Session, job: Job, params: Any) -> None:
        p = self.Params.load(params)
        nodes = citus_nodes.list_nodes(sess)
        node = next((n for n in nodes if n.nodeid == int(p.nodeid)), None)
        if node is None:
            raise errors.NotFound(f"Node {p.nodeid} is no longer in the cluster.")
        others = other_marked_nodes(nodes, node.nodeid)
        if others:
            raise errors.Refused(
                "Citus drains every node marked should-have-shards = false, and "
                f"{', '.join(others)} also is and still holds shards: set it back to true or drain it first."
            )
        if node.shouldhaveshards:
            send(sess, job, citus_nodes.set_should_have_shards_sql(node.nodename, node.nodeport, False))
            log(job, f"Marked {node.address} should-have-shards = false, so the drain moves only its shards.")


class DrainAndRemove(DrainNode):
    name = "drain_and_remove"
    label = "Drain and remove a node"
    perm = Perm.REMOVE_NODE

    def steps(self, node: citus_nodes.Node, params: Any) -> list[str]:
        return [*super().steps(node, params), rebalance.remove_node_sql(node.nodename, node.nodeport).as_string()]

    def complete(self, sess: Session, job: Job, status: rebalance.CitusJob, summary: str) -> bool:
        return _remove_after_drain(sess, job, summary)

    def nothing_to_move(self, sess: Session, job: Job) -> None:
        """The node held no shard (or they were already moved): remove it all the same."""
        _remove_after_drain(sess, job, "Citus found nothing to move")


def _remove_after_drain(sess: Session, job: Job, summary: str) -> bool:
    """Remove the drained node, but only once Citus has dropped what the moves left on it: a cleanup
    record whose group no longer exists can never be dropped and breaks the next move of that shard."""
    nodeid = int(job.parameters["nodeid"])
    node = citus_nodes.find_node(sess, nodeid)
    if node is None:
        finish(job, Job.State.SUCCEEDED, summary=f"Drained ({summary}); the node was already removed.")
        return True
    if node.data_placements:
        finish(
            job,
            Job.State.FAILED,
            error=f"The drain finished but {node.address} still holds "
            f"{node.data_placements} placement(s); it was not removed.",
        )
        return True
    leftovers = cleanup.records(sess, group=node.groupid)
    if leftovers:
        return _wait_for_cleanup(sess, job, node, leftovers, summary)
    statement = rebalance.remove_node_sql(node.nodename, node.nodeport)
    log(job, f"Drained ({summary}); nothing left for Citus to clean up on {node.address}.")
    send(sess, job, statement)
    finish(job, Job.State.SUCCEEDED, summary=f"Drained ({summary}) and removed {node.address}.")
    return True


def _wait_for_cleanup(
    sess: Session, job: Job, node: citus_nodes.Node, leftovers: list[cleanup.CleanupRecord], summary: str
) -> bool:
    now = timezone.now()
    names = ", ".join(r.object_name for r in leftovers[:5]) + (" …" if len(leftovers) > 5 else "")
    since_text = job.parameters.get("cleanup_wait_since")
    if since_text is None:
        log(
            job,
            f"Drained ({summary}). Citus still has {len(leftovers)} leftover(s) of the moves on {node.address} "
            f"(pg_dist_cleanup: {names}); dropping them before the node is removed.",
        )
        send(sess, job, cleanup.cleanup_sql())
        update(job, parameters={**job.parameters, "cleanup_wait_since": now.isoformat()})
        update(
            job, phase="Waiting for Citus's deferred drop", current=f"{len(leftovers)} leftover(s) on {node.address}"
        )
        return False
    waited = (now - datetime.fromisoformat(since_text)).total_seconds()
    if waited < settings.JOB_CLEANUP_WAIT_SECONDS:
        if not job.parameters.get("cleanup_retried") and waited > settings.JOB_CLEANUP_WAIT_SECONDS / 2:
            send(sess, job, cleanup.cleanup_sql())
            update(job, parameters={**job.parameters, "cleanup_retried": True})
        return False
    finish(
        job,
        Job.State.FAILED,
        error=(
            f"The drain finished, but after {int(waited)} s Citus still has {len(leftovers)} leftover(s) of the moves "
            f"on {node.address} (pg_dist_cleanup: {names}), so the node was NOT removed: removing it now would leave "
            "records that nothing can drop and that break the next move of those shards. The node is drained and "
            "marked should-have-shards = false. See the cleanup page of this cluster (Health → Orphaned resources), "
            "then remove the node from the Nodes page."
        ),
    )
    return True
