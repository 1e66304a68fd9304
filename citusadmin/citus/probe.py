"""'Test connection': connect directly (no pool), detect capabilities, read the topology."""

from __future__ import annotations

from dataclasses import dataclass

from citusadmin.citus import errors
from citusadmin.citus.capabilities import Capabilities, detect, remember
from citusadmin.citus.connection import ClusterTarget, direct_session
from citusadmin.citus.nodes import Node, list_nodes


@dataclass(frozen=True)
class ConnectionReport:
    capabilities: Capabilities
    nodes: tuple[Node, ...]
    connect_ms: int

    @property
    def coordinator(self) -> Node | None:
        return next((n for n in self.nodes if n.is_coordinator), None)

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if not n.is_coordinator)


def check_connection(target: ClusterTarget, *, require_citus: bool = True) -> ConnectionReport:
    """Report the Citus version and topology, or raise a typed error saying exactly why not.

    Raises ConnectionRefused / ConnectionTimeout / HostNotFound / AuthenticationFailed / SslError
    when the connection fails, CitusNotInstalled when the database lacks the extension, and
    NotCoordinator when the target is a worker.
    """
    with direct_session(target, application_name="citusadmin/test-connection") as sess:
        caps = detect(sess)
        remember(target, caps)
        if not caps.citus_installed:
            if not require_citus:
                return ConnectionReport(caps, (), sess.connect_ms)  # type: ignore[attr-defined]
            if caps.citus_available:
                raise errors.CitusNotInstalled(
                    f"Connected to PostgreSQL {caps.server_version}, but the citus extension is not "
                    f"created in database {caps.database!r} (version {caps.available_version} is "
                    "available). An Admin can create it from the cluster page."
                )
            raise errors.CitusNotInstalled(
                f"Connected to PostgreSQL {caps.server_version}, but Citus is not installed on this server at all."
            )
        if caps.citus_version is None:
            raise errors.CitusNotInstalled(
                "The citus extension exists in this database but the Citus library is not loaded: add "
                "citus to shared_preload_libraries and restart PostgreSQL."
            )
        if caps.is_coordinator is False:
            raise errors.NotCoordinator()
        nodes = tuple(list_nodes(sess))
        return ConnectionReport(caps, nodes, sess.connect_ms)  # type: ignore[attr-defined]
