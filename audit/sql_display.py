"""Reading an audit entry's "SQL sent": the statements that changed the cluster first, the catalog
reads and session settings that led to them folded below (an entry used to open on 25 lines of reads
before the one statement that mattered)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A read: a query over relations (catalog or monitoring views), or a session setting. Everything else
# (SELECT citus_add_node(...), CALL ..., GRANT, DELETE, VACUUM, pg_cancel_backend(...)) changes something.
_READ = re.compile(r"^\s*(?:WITH\b|SHOW\b|SET\b|SELECT\b.*\bFROM\b|SELECT\s+set_config\()", re.I | re.S)


@dataclass(frozen=True)
class SqlParts:
    changes: list[str]
    reads: list[str]


def split(sql: str) -> SqlParts:
    statements = [s.strip() for s in sql.split(";\n") if s.strip()]
    changes = [s for s in statements if not _READ.match(s)]
    reads = [s for s in statements if _READ.match(s)]
    return SqlParts(changes, reads)
