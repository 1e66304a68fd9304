"""What a cluster offers, detected at run time (never assumed from a version number).

One probe (two statements when Citus is installed) reads the server version, the Citus binary and
catalog versions, every function and relation the ``citus`` extension owns, and the settings the
console cares about. The result is cached per cluster so pages can hide or explain what a cluster
lacks without asking again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from citusadmin.citus.connection import ClusterTarget, Session, session

INTERESTING_SETTINGS = (
    "citus.shard_count",
    "citus.shard_replication_factor",
    "citus.node_conninfo",
    "citus.max_shared_pool_size",
    "citus.stat_statements_track",
    "citus.stat_tenants_track",
    "citus.enable_stat_counters",
    "compute_query_id",
    "max_connections",
    "ssl",
    "shared_preload_libraries",
)


@dataclass(frozen=True)
class _ProbeRow:
    server_version_num: int
    server_version: str
    database: str
    current_user: str
    is_superuser: bool
    available_version: str | None
    extversion: str | None
    citus_version: str | None
    functions: list[str]
    relations: list[str]
    settings: list[str]
    shard_sizes_by_id: bool
    measured_at: datetime


@dataclass(frozen=True)
class Capabilities:
    """Facts about one cluster's coordinator, as measured at ``measured_at``."""

    server_version_num: int
    server_version: str
    database: str
    current_user: str
    is_superuser: bool
    available_version: str | None  # default_version of the citus package on the server
    extversion: str | None  # installed catalog version (pg_extension), e.g. '13.2-1'
    citus_version: str | None  # loaded binary (SHOW citus.version), e.g. '13.2.2'
    citus_version_full: str | None  # citus_version()
    is_coordinator: bool | None
    functions: frozenset[str]
    relations: frozenset[str]
    settings: tuple[tuple[str, str], ...]
    shard_sizes_by_id: bool  # citus_shard_sizes() returns shard_id (extension 11.3-2 and later)
    measured_at: datetime

    @property
    def citus_installed(self) -> bool:
        return self.extversion is not None

    @property
    def citus_available(self) -> bool:
        return self.available_version is not None

    def setting(self, name: str) -> str | None:
        return dict(self.settings).get(name)

    @property
    def citus_preloaded(self) -> bool | None:
        """None when the role may not read shared_preload_libraries."""
        value = self.setting("shared_preload_libraries")
        if value is None:
            return None if self.citus_version is None else True
        return "citus" in [lib.strip() for lib in value.split(",")]

    def has_function(self, name: str) -> bool:
        return name in self.functions

    def has_relation(self, name: str) -> bool:
        return name in self.relations

    # Named capabilities the UI asks about (citus-api.md §12.3).
    @property
    def background_rebalance(self) -> bool:
        return self.has_function("citus_rebalance_start")

    @property
    def rebalance_status(self) -> bool:
        return self.has_function("citus_rebalance_status")

    @property
    def schema_sharding(self) -> bool:
        return self.has_function("citus_schema_distribute")

    @property
    def stat_tenants(self) -> bool:
        return self.has_relation("citus_stat_tenants")

    @property
    def stat_counters(self) -> bool:
        return self.has_relation("citus_stat_counters")

    @property
    def citus_nodes_view(self) -> bool:
        return self.has_relation("citus_nodes")

    @property
    def create_concurrently(self) -> bool:
        return self.has_function("create_distributed_table_concurrently")

    @property
    def node_health_check(self) -> bool:
        return self.has_function("citus_check_cluster_node_health")


_PROBE = """
SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('server_version') AS server_version,
       current_database() AS database,
       current_user AS current_user,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'citus') AS available_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'citus') AS extversion,
       current_setting('citus.version', true) AS citus_version,
       ARRAY(SELECT DISTINCT p.proname::text
               FROM pg_depend d
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'citus'
               JOIN pg_proc p ON p.oid = d.objid
              WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
                AND d.deptype = 'e') AS functions,
       ARRAY(SELECT DISTINCT c.relname::text
               FROM pg_depend d
               JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'citus'
               JOIN pg_class c ON c.oid = d.objid
              WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
                AND d.deptype = 'e' AND c.relkind IN ('r', 'v', 'p', 'm')) AS relations,
       ARRAY(SELECT name || '=' || setting FROM pg_settings WHERE name = ANY(%s)) AS settings,
       EXISTS(SELECT 1 FROM pg_proc WHERE proname = 'citus_shard_sizes'
                AND 'shard_id' = ANY(proargnames)) AS shard_sizes_by_id,
       now() AS measured_at
"""


def detect(sess: Session) -> Capabilities:
    row = sess.fetch_one(_PROBE, (list(INTERESTING_SETTINGS),), row=_ProbeRow)
    assert row is not None
    is_coordinator: bool | None = None
    full: str | None = None
    if row.extversion is not None and row.citus_version:
        # citus_is_coordinator() exists from 11.0; older clusters: unknown.
        if "citus_is_coordinator" in row.functions:
            is_coordinator = bool(sess.scalar("SELECT citus_is_coordinator()"))
        full = sess.scalar("SELECT citus_version()")
    pairs = tuple(sorted((name, value) for name, _, value in (item.partition("=") for item in row.settings)))
    return Capabilities(
        server_version_num=row.server_version_num,
        server_version=row.server_version,
        database=row.database,
        current_user=row.current_user,
        is_superuser=bool(row.is_superuser),
        available_version=row.available_version,
        extversion=row.extversion,
        citus_version=row.citus_version or None,
        citus_version_full=full,
        is_coordinator=is_coordinator,
        functions=frozenset(row.functions),
        relations=frozenset(row.relations),
        settings=pairs,
        shard_sizes_by_id=row.shard_sizes_by_id,
        measured_at=row.measured_at,
    )


def _cache_key(target: ClusterTarget) -> str:
    return f"citus-capabilities:{target.key}"


def get_capabilities(target: ClusterTarget, *, refresh: bool = False) -> Capabilities:
    """Cached capabilities; one probe per cluster per cache period."""
    key = _cache_key(target)
    if not refresh:
        cached: Capabilities | None = cache.get(key)
        if cached is not None:
            return cached
    with session(target) as sess:
        caps = detect(sess)
    cache.set(key, caps, settings.CITUS_CAPABILITY_CACHE_SECONDS)
    return caps


def remember(target: ClusterTarget, caps: Capabilities) -> None:
    cache.set(_cache_key(target), caps, settings.CITUS_CAPABILITY_CACHE_SECONDS)


def forget(target: ClusterTarget) -> None:
    cache.delete(_cache_key(target))
