"""High availability of a Patroni-managed cluster: Patroni's view of each Citus group beside Citus's
own ``pg_dist_node``, with every disagreement flagged and explained.

One read costs one DCS request (or one REST call per group) and one coordinator statement; viewers
share it (``monitoring.shared``, a few seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from citusadmin import crypto, request_context
from citusadmin.citus import nodes as citus_nodes
from citusadmin.citus import patroni
from citusadmin.citus.connection import session
from citusadmin.citus.errors import CitusError
from clusters.models import Cluster

RUNNING = ("running", "streaming")


def access(cluster: Cluster) -> patroni.Access:
    password = crypto.decrypt(cluster.patroni_password_encrypted) if cluster.patroni_password_encrypted else ""
    return patroni.Access(
        etcd=tuple(u.strip().rstrip("/") for u in cluster.patroni_etcd.split(",") if u.strip()),
        scope=cluster.patroni_scope,
        namespace=cluster.patroni_namespace or "/service/",
        rest=tuple((g, tuple(urls)) for g, urls in sorted(cluster.rest_urls().items())),
        user=cluster.patroni_user,
        password=password,
        cafile=cluster.patroni_cafile,
        certfile=cluster.patroni_certfile,
        keyfile=cluster.patroni_keyfile,
    )


@dataclass
class Finding:
    level: str  # "bad", "warn", "info"
    text: str


@dataclass
class MemberRow:
    member: patroni.Member
    citus: str  # "primary (node 3)", "secondary (node 7)", "not in pg_dist_node"


@dataclass
class GroupView:
    group: int
    label: str
    leader: str | None
    paused: bool
    members: list[MemberRow]
    citus_primary: citus_nodes.Node | None
    history: list[patroni.HistoryEntry]
    findings: list[Finding] = field(default_factory=list)

    @property
    def worst(self) -> str:
        levels = {f.level for f in self.findings}
        return "bad" if "bad" in levels else "warn" if "warn" in levels else "ok"


@dataclass
class HaState:
    topology: patroni.Topology | None
    groups: list[GroupView]
    findings: list[Finding]  # those of no single group (a pg_dist_node group unknown to Patroni, ...)
    error: str = ""
    read_at: datetime | None = None

    @property
    def latest_change(self) -> tuple[GroupView, patroni.HistoryEntry] | None:
        """The newest leader change of any group (the failover banner), if Patroni dated it."""
        dated = [(g, h) for g in self.groups for h in g.history if h.at is not None]
        return max(dated, key=lambda pair: pair[1].at) if dated else None  # type: ignore[arg-type, return-value]


def compare(topology: patroni.Topology, nodes: list[citus_nodes.Node]) -> HaState:
    lag_limit = settings.PATRONI_LAG_WARN_BYTES
    by_address = {n.address: n for n in nodes}
    groups = []
    for group in topology.groups:
        primary = next((n for n in nodes if n.groupid == group.group and n.noderole == "primary"), None)
        leader = group.leader_member
        rows: list[MemberRow] = []
        view = GroupView(
            group.group,
            "coordinator" if group.group == 0 else f"worker group {group.group}",
            group.leader,
            group.paused,
            rows,
            primary,
            sorted(group.history, key=lambda h: h.timeline, reverse=True)[:20],
        )
        for m in group.members:
            row = by_address.get(m.address)
            if row is None:
                citus = "not in pg_dist_node"
            else:
                citus = f"{row.noderole} (node {row.nodeid})"
                if row.groupid != group.group:
                    view.findings.append(
                        Finding(
                            "bad",
                            f"{m.name} ({m.address}) is in Patroni group {group.group} but pg_dist_node "
                            f"puts it in group {row.groupid}.",
                        )
                    )
                if row.noderole == "secondary" and m.is_leader:
                    view.findings.append(Finding("warn", f"{m.name} leads the group but is registered as a secondary."))
            rows.append(MemberRow(m, citus))
            if m.state not in RUNNING:
                view.findings.append(
                    Finding("bad" if m.is_leader else "warn", f"{m.name} is {m.state or 'in no state'}.")
                )
            if m.lag_bytes is not None and m.lag_bytes > lag_limit and not m.is_leader:
                view.findings.append(
                    Finding(
                        "warn",
                        f"{m.name} lags {m.lag_bytes:,} bytes behind the leader (more than "
                        f"{lag_limit:,}): a switchover to it would wait or be refused.",
                    )
                )
            if m.pending_restart:
                view.findings.append(Finding("info", f"{m.name} has settings that wait for a restart."))
        if leader is None:
            view.findings.append(Finding("bad", "Patroni has no leader for this group: nothing accepts writes."))
        if primary is None:
            view.findings.append(Finding("bad", "pg_dist_node has no primary row for this group."))
        elif leader is not None and primary.address != leader.address:
            view.findings.append(
                Finding(
                    "bad",
                    f"pg_dist_node points at {primary.address}, but Patroni's leader is {leader.name} "
                    f"({leader.address}). During a switchover this lasts seconds; if it stays, queries go to a "
                    "replica (read-only) or nowhere: update the node (Nodes → Move) to the leader's address.",
                )
            )
        for n in nodes:
            if n.groupid == group.group and n.noderole == "secondary":
                member = next((m for m in group.members if m.address == n.address), None)
                if member is None:
                    view.findings.append(
                        Finding(
                            "warn",
                            f"pg_dist_node lists {n.address} as a secondary of this "
                            "group, but Patroni has no such member (stale row).",
                        )
                    )
                elif member.is_leader:
                    pass  # said above
        if group.paused:
            view.findings.append(Finding("warn", "Automatic failover is paused for this group."))
        groups.append(view)
    known = {g.group for g in topology.groups}
    loose = [
        Finding("bad", f"pg_dist_node has group {n.groupid} ({n.address}) that Patroni does not manage.")
        for n in nodes
        if n.noderole == "primary" and n.groupid not in known
    ]
    return HaState(topology, groups, loose, read_at=topology.read_at)


def read(cluster: Cluster) -> HaState:
    """Patroni's view and pg_dist_node, compared. Never raises: errors are in ``error``."""
    try:
        topology = patroni.read(access(cluster))
    except (CitusError, crypto.DecryptionFailed) as exc:
        return HaState(None, [], [], error=getattr(exc, "user_message", str(exc)), read_at=timezone.now())
    try:
        with session(cluster.target()) as sess:
            nodes = citus_nodes.list_nodes(sess)
    except CitusError as exc:
        state = compare(topology, [])
        state.error = f"The coordinator does not answer ({exc.user_message}); Patroni's view only."
        return state
    return compare(topology, nodes)


def shared(cluster: Cluster) -> HaState:
    """``read``, computed once per cluster every few seconds whoever asks."""
    from monitoring import shared as shared_figures

    key = shared_figures.key_for(cluster.pk, cluster.target().key, "ha")
    value, _ = shared_figures.shared_figure(key, settings.PATRONI_SHARE_SECONDS, lambda: read(cluster))
    return value


def as_rows(state: HaState) -> list[dict[str, Any]]:
    """One row per member, as ``patronictl list -f json`` names them (for the API and the tests)."""
    return [
        {
            "Group": g.group,
            "Member": r.member.name,
            "Host": r.member.address,
            "Role": r.member.role,
            "State": r.member.state,
            "TL": r.member.timeline,
            "Lag in MB": None if r.member.lag_bytes is None else round(r.member.lag_bytes / 1048576),
        }
        for g in state.groups
        for r in g.members
    ]


def note_leaders(cluster: Cluster) -> int:
    """Compare each group's leader with the last one seen; record each change (audit, banner) once."""
    from clusters.models import PatroniLeader

    try:
        topology = patroni.read(access(cluster))
    except (CitusError, crypto.DecryptionFailed):
        return 0  # the HA page says why; nothing to compare
    now = timezone.now()
    changes = 0
    for group in topology.groups:
        leader = group.leader or ""
        row, created = PatroniLeader.objects.get_or_create(
            cluster=cluster, group=group.group, defaults={"leader": leader, "seen_at": now}
        )
        if created or row.leader == leader or not leader:
            PatroniLeader.objects.filter(pk=row.pk).update(seen_at=now)
            continue
        claimed = PatroniLeader.objects.filter(pk=row.pk, leader=row.leader).update(
            leader=leader, previous=row.leader, changed_at=now, seen_at=now
        )
        if not claimed:
            continue  # another watcher recorded it
        newest = max(group.history, key=lambda h: h.timeline, default=None)
        token = request_context.set_current(request_context.RequestContext(source="system"))  # seen, not done
        try:
            _record_change(cluster, group, row.leader, leader, newest, topology.source)
        finally:
            request_context.reset(token)
        changes += 1
    return changes


def _record_change(
    cluster: Cluster,
    group: patroni.Group,
    old: str,
    new: str,
    newest: patroni.HistoryEntry | None,
    source: str,
) -> None:
    from audit.actions import record
    from audit.models import AuditEntry
    from audit.names import Action

    record(
        None,
        Action.PATRONI_LEADER_CHANGED,
        AuditEntry.Outcome.SUCCEEDED,
        cluster=cluster,
        target=f"group {group.group}",
        parameters={
            "from": old,
            "to": new,
            "timeline": newest.timeline + 1 if newest else None,
            "reason": newest.reason if newest else "",
            "seen_by": "console (Patroni DCS)" if source == "dcs" else "console (Patroni REST API)",
        },
    )


def recent_changes(cluster_id: int, hours: int = 24) -> list[Any]:
    """The leader changes the console saw in the last ``hours`` (the banner on the cluster's pages)."""
    from datetime import timedelta

    from clusters.models import PatroniLeader

    since = timezone.now() - timedelta(hours=hours)
    return list(PatroniLeader.objects.filter(cluster_id=cluster_id, changed_at__gte=since).order_by("-changed_at"))
