"""Patroni, beside the Citus gateway: what Patroni says about each Citus group (members, roles, lag,
timelines, history, paused) and the operations it offers (switchover, restart, reinitialize, pause).

Reads come from the DCS (etcd v3's JSON gateway: every group of the scope in one request) or, without
a DCS, from each group's REST API (``GET /cluster`` and ``/history``). Operations go to a member's
REST API. Every HTTP request is described in words (``HttpCall``) so the audit entry shows what was
sent. Patroni's own refusal (its status and text) is passed on as it is.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from citusadmin.citus.errors import CitusError
from citusadmin.params import parse_int

TIMEOUT = 5.0


class PatroniError(CitusError):
    default_message = "Patroni could not be reached."
    kind = "connection"


class PatroniRefused(CitusError):
    """Patroni answered and said no (its reason is the message)."""

    default_message = "Patroni refused."


@dataclass(frozen=True)
class Access:
    etcd: tuple[str, ...] = ()
    scope: str = ""
    namespace: str = "/service/"
    rest: tuple[tuple[int, tuple[str, ...]], ...] = ()
    user: str = ""
    password: str = field(default="", repr=False)
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    @property
    def uses_dcs(self) -> bool:
        return bool(self.etcd and self.scope)


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.url}" + (f" {json.dumps(self.body, sort_keys=True)}" if self.body else "")


@dataclass
class Member:
    group: int
    name: str
    role: str  # leader / primary, replica, sync_standby, quorum_standby, standby_leader, demoted, uninitialized
    state: str
    host: str
    port: int | None
    api_url: str
    timeline: int | None = None
    lag_bytes: int | None = None
    replication_state: str = ""
    tags: dict[str, Any] = field(default_factory=dict)
    pending_restart: bool = False
    lsn: int | None = None  # replayed (replica) or written (leader) position, for the lag

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def is_leader(self) -> bool:
        return self.role in ("leader", "primary", "master", "standby_leader")


@dataclass
class HistoryEntry:
    timeline: int
    lsn: int | None
    reason: str
    at: datetime | None
    new_leader: str


@dataclass
class Group:
    group: int
    leader: str | None
    members: list[Member]
    history: list[HistoryEntry]
    paused: bool = False

    @property
    def leader_member(self) -> Member | None:
        return next((m for m in self.members if m.name == self.leader), None) or next(
            (m for m in self.members if m.is_leader), None
        )


@dataclass
class Topology:
    source: str  # "dcs" or "rest"
    scope: str
    groups: list[Group]
    version: str
    read_at: datetime

    def group(self, number: int) -> Group | None:
        return next((g for g in self.groups if g.group == number), None)


# --- HTTP -----------------------------------------------------------------------------------------------


def _context(access: Access) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=access.cafile or None)
    if access.certfile:
        context.load_cert_chain(access.certfile, access.keyfile or None)
    return context


def _request(access: Access, call: HttpCall, *, authenticate: bool = True) -> tuple[int, bytes]:
    data = json.dumps(call.body).encode() if call.body is not None else None
    request = urllib.request.Request(call.url, data=data, method=call.method)  # noqa: S310 - operator-set URLs
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if authenticate and access.user:
        token = base64.b64encode(f"{access.user}:{access.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    kwargs: dict[str, Any] = {"timeout": TIMEOUT}
    if call.url.startswith("https:"):
        kwargs["context"] = _context(access)
    try:
        with urllib.request.urlopen(request, **kwargs) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PatroniError(f"Patroni at {_base(call.url)} does not answer: {reason}.") from None


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- reading ------------------------------------------------------------------------------------------


def read(access: Access) -> Topology:
    if access.uses_dcs:
        return _from_dcs(access)
    if access.rest:
        return _from_rest(access)
    raise PatroniError("No Patroni DCS or REST API is configured for this cluster.")


def _dcs_range(access: Access) -> dict[str, str]:
    prefix = f"{access.namespace.rstrip('/')}/{access.scope}/"
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = {"key": base64.b64encode(prefix.encode()).decode(), "range_end": base64.b64encode(end.encode()).decode()}
    failures = []
    for endpoint in access.etcd:
        try:
            status, raw = _request(access, HttpCall("POST", f"{endpoint.rstrip('/')}/v3/kv/range", body))
        except PatroniError as exc:
            failures.append(exc.user_message)
            continue
        if status != 200:
            failures.append(f"etcd at {endpoint} answered {status}: {raw[:200].decode(errors='replace')}")
            continue
        kvs = json.loads(raw or b"{}").get("kvs", [])
        return {
            base64.b64decode(kv["key"]).decode()[len(prefix) :]: base64.b64decode(kv.get("value", "")).decode()
            for kv in kvs
        }
    raise PatroniError("The DCS does not answer: " + " ".join(failures))


def _from_dcs(access: Access) -> Topology:
    keys = _dcs_range(access)
    groups: dict[int, Group] = {}
    versions: set[str] = set()
    for key, value in keys.items():
        head, _, rest = key.partition("/")
        number = parse_int(head)  # a DCS key we do not know ("²/leader" too) is skipped, never a 500
        if number is None:
            continue
        group = groups.setdefault(number, Group(number, None, [], []))
        if rest == "leader":
            group.leader = value
        elif rest.startswith("members/"):
            data = _json(value)
            versions.add(str(data.get("version", "")))
            group.members.append(_member(number, rest.split("/", 1)[1], data))
        elif rest == "history":
            group.history = _history(_json(value, []))
        elif rest == "config":
            group.paused = bool(_json(value).get("pause"))
    for group in groups.values():
        _fill_lag(group, keys.get(f"{group.group}/status", ""))
        for m in group.members:
            if m.name == group.leader and m.role == "primary":
                m.role = "leader"
        group.members.sort(key=lambda m: (not m.is_leader, m.name))
    if not groups:
        raise PatroniError(f"The DCS has nothing under the scope {access.scope!r} (namespace {access.namespace}).")
    return Topology("dcs", access.scope, sorted(groups.values(), key=lambda g: g.group), _version(versions), _now())


def _member(group: int, name: str, data: dict[str, Any]) -> Member:
    conn = urlsplit(str(data.get("conn_url", "")))
    api = str(data.get("api_url", ""))
    return Member(
        group=group,
        name=name,
        role=str(data.get("role", "")),
        # as patronictl shows it: a replica's replication state (streaming) rather than "running"
        state=str(data.get("replication_state") or data.get("state", "")),
        host=conn.hostname or "",
        port=conn.port,
        api_url=api[: -len("/patroni")] if api.endswith("/patroni") else api,
        timeline=data.get("timeline"),
        replication_state=str(data.get("replication_state", "")),
        tags=data.get("tags") or {},
        pending_restart=bool(data.get("pending_restart")),
        lsn=_int(data.get("replay_lsn", data.get("receive_lsn", data.get("xlog_location")))),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fill_lag(group: Group, status: str) -> None:
    optime = _json(status).get("optime")
    leader = group.leader_member
    top = optime if isinstance(optime, int) else None
    top = top if top is not None else (leader.lsn if leader else None)
    for m in group.members:
        if m.is_leader or m is leader:
            m.lag_bytes = 0
        elif top is not None and m.lsn is not None:
            m.lag_bytes = max(0, top - m.lsn)


def _history(raw: Any) -> list[HistoryEntry]:
    entries = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, list) or len(item) < 3:
            continue
        at = None
        if len(item) > 3 and isinstance(item[3], str):
            try:
                at = datetime.fromisoformat(item[3])
            except ValueError:
                at = None
        entries.append(
            HistoryEntry(
                timeline=int(item[0]),
                lsn=item[1] if isinstance(item[1], int) else None,
                reason=str(item[2]),
                at=at,
                new_leader=str(item[4]) if len(item) > 4 and item[4] else "",
            )
        )
    return entries


def _from_rest(access: Access) -> Topology:
    groups = []
    versions: set[str] = set()
    for number, urls in access.rest:
        body, history = None, []
        failures = []
        for url in urls:
            try:
                status, raw = _request(access, HttpCall("GET", f"{url}/cluster"), authenticate=False)
            except PatroniError as exc:
                failures.append(exc.user_message)
                continue
            if status == 200:
                body = _json(raw.decode(errors="replace"))
                _, hist = _request(access, HttpCall("GET", f"{url}/history"), authenticate=False)
                history = _history(_json(hist.decode(errors="replace"), []))
                break
            failures.append(f"{url} answered {status}")
        if body is None:
            raise PatroniError(f"No Patroni REST API of group {number} answers: " + " ".join(failures))
        members = []
        for m in body.get("members", []):
            member = Member(
                group=number,
                name=str(m.get("name", "")),
                role=str(m.get("role", "")),
                state=str(m.get("state", "")),
                host=str(m.get("host", "")),
                port=m.get("port"),
                api_url=str(m.get("api_url", "")).removesuffix("/patroni"),
                timeline=m.get("timeline"),
                lag_bytes=m.get("lag") if isinstance(m.get("lag"), int) else (0 if m.get("role") == "leader" else None),
                tags=m.get("tags") or {},
                pending_restart=bool(m.get("pending_restart")),
            )
            members.append(member)
        leader = next((m.name for m in members if m.is_leader), None)
        groups.append(Group(number, leader, members, history, paused=bool(body.get("pause"))))
    return Topology("rest", str(access.scope), groups, _version(versions), _now())


def _json(text: str | bytes, default: Any = None) -> Any:
    try:
        value = json.loads(text) if text else default
    except ValueError:
        value = default
    return value if value is not None else ({} if default is None else default)


def _version(versions: set[str]) -> str:
    return ", ".join(sorted(v for v in versions if v)) or "unknown"


def _now() -> datetime:
    return datetime.now(UTC)


# --- operations ---------------------------------------------------------------------------------------


def switchover_call(group: Group, candidate: str, scheduled_at: datetime | None = None) -> HttpCall:
    leader = group.leader_member
    if leader is None:
        raise PatroniRefused(f"Group {group.group} has no leader to switch over from.")
    body: dict[str, Any] = {"leader": leader.name, "candidate": candidate}
    if scheduled_at is not None:
        body["scheduled_at"] = scheduled_at.isoformat()
    return HttpCall("POST", f"{leader.api_url}/switchover", body)


def restart_call(member: Member) -> HttpCall:
    return HttpCall("POST", f"{member.api_url}/restart", {})


def reinitialize_call(member: Member) -> HttpCall:
    return HttpCall("POST", f"{member.api_url}/reinitialize", {"force": False})


def pause_call(group: Group, pause: bool) -> HttpCall:
    target = group.leader_member or (group.members[0] if group.members else None)
    if target is None:
        raise PatroniRefused(f"Group {group.group} has no member to ask.")
    return HttpCall("PATCH", f"{target.api_url}/config", {"pause": pause})


def send(access: Access, call: HttpCall) -> str:
    """Send an operation; Patroni's answer in words, or PatroniRefused with Patroni's reason."""
    status, raw = _request(access, call)
    text = raw.decode(errors="replace").strip()
    if status >= 300:
        raise PatroniRefused(f"Patroni refused ({status}): {text[:500] or 'no reason given'}")
    return text[:500]
