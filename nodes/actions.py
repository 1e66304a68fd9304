"""Topology changes. Each checks its permission, sends one Citus function, and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from audit.actions import audited
from audit.names import Action
from citusadmin.citus import cleanup, errors
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus.connection import session
from citusadmin.citus.nodes import Node
from citusadmin.perms import Actor, Perm
from clusters.models import Cluster


@dataclass(frozen=True)
class AddNodeResult:
    nodeid: int
    existed: bool


def _find(sess: Any, nodeid: int) -> Node:
    node = citus_nodes.find_node(sess, nodeid)
    if node is None:
        raise errors.NotFound(f"There is no node with id {nodeid} in this cluster (any more).")
    return node


def do_add_node(
    actor: Actor,
    cluster: Cluster,
    host: str,
    port: int,
    *,
    groupid: int | None = None,
    role: str = "primary",
    nodecluster: str = "default",
) -> AddNodeResult:
    statement = citus_nodes.add_node_sql(host, port, groupid=groupid, role=role, nodecluster=nodecluster)
    params = {"host": host, "port": port, "groupid": groupid, "role": role, "nodecluster": nodecluster}
    with audited(
        actor,
        Action.ADD_NODE,
        perm=Perm.ADD_NODE,
        cluster=cluster,
        target=f"{host}:{port}",
        parameters=params,
        atomic=False,
    ) as entry:
        with session(cluster.target()) as sess:
            existing = {n.address: n.nodeid for n in citus_nodes.list_nodes(sess)}
            nodeid = int(citus_nodes.run(sess, statement))  # type: ignore[call-overload]
        existed = existing.get(f"{host}:{port}") == nodeid
        entry.result = (
            f"already in the cluster (node id {nodeid}); Citus changed nothing"
            if existed
            else f"added (node id {nodeid})"
        )
    return AddNodeResult(nodeid=nodeid, existed=existed)


def _node_operation(
    actor: Actor,
    cluster: Cluster,
    nodeid: int,
    *,
    action: str,
    perm: Perm,
    build: Any,
    parameters: dict[str, Any],
    check: Any = None,
) -> Node:
    with (
        audited(
            actor, action, perm=perm, cluster=cluster, target=f"node {nodeid}", parameters=parameters, atomic=False
        ) as entry,
        session(cluster.target()) as sess,
    ):
        node = _find(sess, nodeid)
        entry.target = node.address
        if check is not None:
            check(node)
        citus_nodes.run(sess, build(node))
    return node


def do_activate_node(actor: Actor, cluster: Cluster, nodeid: int) -> Node:
    return _node_operation(
        actor,
        cluster,
        nodeid,
        action=Action.ACTIVATE_NODE,
        perm=Perm.ACTIVATE_NODE,
        build=lambda n: citus_nodes.activate_node_sql(n.nodename, n.nodeport),
        parameters={},
    )


def do_disable_node(actor: Actor, cluster: Cluster, nodeid: int) -> Node:
    return _node_operation(
        actor,
        cluster,
        nodeid,
        action=Action.DISABLE_NODE,
        perm=Perm.DISABLE_NODE,
        build=lambda n: citus_nodes.disable_node_sql(n.nodename, n.nodeport),
        parameters={},
    )


def do_set_should_have_shards(actor: Actor, cluster: Cluster, nodeid: int, value: bool) -> Node:
    return _node_operation(
        actor,
        cluster,
        nodeid,
        action=Action.SET_SHOULD_HAVE_SHARDS,
        perm=Perm.SET_SHOULD_HAVE_SHARDS,
        build=lambda n: citus_nodes.set_should_have_shards_sql(n.nodename, n.nodeport, value),
        parameters={"shouldhaveshards": value},
    )


def do_update_node(actor: Actor, cluster: Cluster, nodeid: int, new_host: str, new_port: int) -> Node:
    return _node_operation(
        actor,
        cluster,
        nodeid,
        action=Action.UPDATE_NODE,
        perm=Perm.UPDATE_NODE,
        build=lambda n: citus_nodes.update_node_sql(n.nodeid, new_host, new_port),
        parameters={"new_host": new_host, "new_port": new_port},
    )


def do_set_coordinator_host(actor: Actor, cluster: Cluster, host: str, port: int) -> None:
    with (
        audited(
            actor,
            Action.SET_COORDINATOR_HOST,
            perm=Perm.SET_COORDINATOR_HOST,
            cluster=cluster,
            target=f"{host}:{port}",
            parameters={"host": host, "port": port},
            atomic=False,
        ),
        session(cluster.target()) as sess,
    ):
        citus_nodes.run(sess, citus_nodes.set_coordinator_host_sql(host, port))


def removal_refusal(node: Node) -> str | None:
    """Why the safe (default) removal is refused, or None when the node holds no data of its own."""
    if node.data_placements > 0:
        return (
            f"{node.address} still holds {node.data_placements} shard placement(s) that are not reference-table "
            "copies. citus_remove_node does not drain: drain the node first (drain and remove), "
            "or force the removal and let Citus decide."
        )
    return None


def do_remove_node(actor: Actor, cluster: Cluster, nodeid: int, *, force: bool = False) -> Node:
    """Safe by default: refuses while the node holds data. ``force`` sends citus_remove_node anyway;
    Citus still refuses when the node holds a shard's only placement, and its message is shown."""

    def check(node: Node) -> None:
        if node.is_coordinator:
            raise errors.Refused("The coordinator cannot be removed from its own cluster here.")
        reason = removal_refusal(node)
        if reason and not force:
            raise errors.Refused(reason)

    return _node_operation(
        actor,
        cluster,
        nodeid,
        action=Action.REMOVE_NODE,
        perm=Perm.REMOVE_NODE,
        build=lambda n: citus_nodes.remove_node_sql(n.nodename, n.nodeport),
        parameters={"force": force},
        check=check,
    )


def preview_sql(statement: sql.Composed) -> str:
    return citus_nodes.render(statement)


def do_run_cleanup(actor: Actor, cluster: Cluster) -> int:
    """CALL citus_cleanup_orphaned_resources(): Citus drops what it can reach now. Returns the records left."""
    with (
        audited(
            actor, Action.RUN_CLEANUP, perm=Perm.REMOVE_NODE, cluster=cluster, target=cluster.name, atomic=False
        ) as entry,
        session(cluster.target()) as sess,
    ):
        sess.execute(cleanup.cleanup_sql())
        left = len(cleanup.records(sess))
        entry.result = f"{left} record(s) left in pg_dist_cleanup"
    return left


def do_forget_orphaned_cleanup(actor: Actor, cluster: Cluster, record_ids: list[int]) -> int:
    """Delete cleanup records whose node group no longer exists (their objects went with the node;
    nothing can drop them, and they break the next move of their shards). Only the previewed records,
    and only while their group is still gone. Returns how many were deleted."""
    with (
        audited(
            actor,
            Action.FORGET_CLEANUP_RECORDS,
            perm=Perm.REMOVE_NODE,
            cluster=cluster,
            target=cluster.name,
            parameters={"record_ids": sorted(record_ids)},
            atomic=False,
        ) as entry,
        session(cluster.target()) as sess,
    ):
        before = {r.record_id for r in cleanup.records(sess) if r.group_gone}
        sess.execute(cleanup.forget_orphaned_sql(record_ids))
        after = {r.record_id for r in cleanup.records(sess) if r.group_gone}
        deleted = len((before - after) & set(record_ids))
        entry.result = f"{deleted} record(s) deleted"
    return deleted
