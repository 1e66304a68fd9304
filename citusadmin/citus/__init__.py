"""The Citus gateway: the only package that sends SQL to a Citus cluster.

One module per concern. Functions take a :class:`~citusadmin.citus.connection.Session`, bind every
value as a parameter, build identifiers with ``psycopg.sql.Identifier`` and return frozen
dataclasses. Every PostgreSQL or Citus error leaves this package as a :class:`CitusError`.
"""

from citusadmin.citus.connection import ClusterTarget, Session, session
from citusadmin.citus.errors import CitusError

__all__ = ["CitusError", "ClusterTarget", "Session", "session"]
