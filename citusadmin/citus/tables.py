"""Tables, shards and placements (citus-api.md §4). Catalog reads only: no fan-out, keyset pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

from citusadmin.citus.connection import Session

# Words PostgreSQL reserves: an identifier spelled like one must be quoted even when lower case.
_RESERVED = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "system_user",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ]
)
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_if_needed(identifier: str) -> str:
    if _PLAIN.fullmatch(identifier) and identifier not in _RESERVED:
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def display_name(schema: str, name: str) -> str:
    return f"{quote_if_needed(schema)}.{quote_if_needed(name)}"


KINDS = ("distributed", "single_shard", "schema", "reference", "citus_local", "append", "range", "local")

# One row per user table of the database, Citus or not; Citus shard relations are left out.
_TABLES = """
WITH t AS (
    SELECT c.oid::bigint AS relid, n.nspname::text AS schema, c.relname::text AS name,
           pg_get_userbyid(c.relowner)::text AS owner, COALESCE(am.amname::text, 'heap') AS access_method,
           c.reltuples::bigint AS estimated_rows,
           CASE
             WHEN p.logicalrelid IS NULL THEN 'local'
             WHEN p.partmethod = 'h' AND p.partkey IS NULL AND {schema_check} THEN 'schema'
             WHEN p.partmethod = 'h' AND p.partkey IS NULL THEN 'single_shard'
             WHEN p.partmethod = 'h' THEN 'distributed'
             WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
             WHEN p.partmethod = 'n' THEN 'citus_local'
             WHEN p.partmethod = 'a' THEN 'append'
             WHEN p.partmethod = 'r' THEN 'range'
           END AS kind,
           CASE WHEN p.partkey IS NOT NULL THEN column_to_column_name(p.logicalrelid, p.partkey) END
               AS distribution_column,
           NULLIF(p.colocationid, 0) AS colocation_id,
           (SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = c.oid)::int AS shard_count
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_am am ON am.oid = c.relam
      LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'citus', 'citus_internal', 'columnar',
                             'columnar_internal', 'pg_toast')
       AND NOT relation_is_a_known_shard(c.oid)
)
SELECT * FROM t
 WHERE (%(schema)s::text IS NULL OR schema = %(schema)s)
   AND (%(kind)s::text IS NULL OR kind = %(kind)s)
   AND (%(name)s::text IS NULL OR name ILIKE '%%' || %(name)s || '%%')
   AND (%(after_schema)s::text IS NULL OR
        CASE WHEN %(sort)s = 'shards'
             THEN (-shard_count, schema, name) > (-%(after_count)s::int, %(after_schema)s, %(after_name)s)
             ELSE (schema, name) > (%(after_schema)s, %(after_name)s) END)
 ORDER BY CASE WHEN %(sort)s = 'shards' THEN -shard_count END, schema, name
 LIMIT %(limit)s
"""


@dataclass(frozen=True)
class TableRow:
    relid: int
    schema: str
    name: str
    owner: str
    access_method: str
    estimated_rows: int
    kind: str
    distribution_column: str | None
    colocation_id: int | None
    shard_count: int

    @property
    def qualified(self) -> str:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name)).as_string()

    @property
    def display(self) -> str:
        """``public.orders`` for people; quoted only where PostgreSQL needs it (``"Order items"``)."""
        return display_name(self.schema, self.name)

    @property
    def is_citus(self) -> bool:
        return self.kind != "local"


def _schema_check(sess_has_schema_table: bool) -> str:
    if sess_has_schema_table:
        return "EXISTS (SELECT 1 FROM pg_dist_schema ds WHERE ds.colocationid = p.colocationid)"
    return "false"


def list_tables(
    sess: Session,
    *,
    has_pg_dist_schema: bool,
    schema: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 50,
    sort: str = "name",
    after_count: int | None = None,
) -> list[TableRow]:
    """A page of tables, keyset on (schema, name), or on (shard count desc, schema, name) with
    ``sort='shards'``: one statement whatever the number of tables."""
    query = sql.SQL(_TABLES.replace("{schema_check}", _schema_check(has_pg_dist_schema)))
    params = {
        "schema": schema or None,
        "kind": kind or None,
        "name": name or None,
        "after_schema": after[0] if after else None,
        "after_name": after[1] if after else None,
        "limit": limit,
        "sort": sort,
        "after_count": after_count,
    }
    return sess.fetch_all(query, params, row=TableRow)


@dataclass(frozen=True)
class TableName:
    name: str


def hash_distributed_tables(sess: Session, limit: int = 2000) -> list[str]:
    rows = sess.fetch_all(
        "SELECT p.logicalrelid::regclass::text AS name FROM pg_dist_partition p "
        "WHERE p.partmethod = 'h' ORDER BY 1 LIMIT %s",
        (limit,),
        row=TableName,
    )
    return [r.name for r in rows]


# --- one table --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    type_oid: int


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # p, u, f, x
    columns: list[str]
    definition: str
    referenced_relid: int | None
    referenced: str | None  # the other table: referenced (own FKs) or referencing (FKs pointing here)
    other_kind: str | None = None  # 'local', 'reference', 'distributed', 'other'
    other_colocation: int | None = None


@dataclass(frozen=True)
class TableInfo:
    """Everything the table page and the distribution checks need, from one statement."""

    relid: int
    schema: str
    name: str
    owner: str
    estimated_rows: int
    local_bytes: int
    kind: str
    distribution_column: str | None
    colocation_id: int | None
    columns: list[Column]
    constraints: list[Constraint]
    referencing: list[Constraint]  # foreign keys of other tables that point here
    colocated: list[str]
    grants: list[str]

    @property
    def qualified(self) -> str:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(self.name)).as_string()

    @property
    def display(self) -> str:
        """``public.orders`` for people; quoted only where PostgreSQL needs it (``"Order items"``)."""
        return display_name(self.schema, self.name)


_TABLE_INFO = """
SELECT c.oid::bigint AS relid, n.nspname::text AS schema, c.relname::text AS name,
       pg_get_userbyid(c.relowner)::text AS owner, c.reltuples::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS local_bytes,
       CASE WHEN p.logicalrelid IS NULL THEN 'local'
            WHEN p.partmethod = 'h' AND p.partkey IS NULL THEN 'single_shard'
            WHEN p.partmethod = 'h' THEN 'distributed'
            WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
            WHEN p.partmethod = 'n' THEN 'citus_local'
            WHEN p.partmethod = 'a' THEN 'append' ELSE 'range' END AS kind,
       CASE WHEN p.partkey IS NOT NULL THEN column_to_column_name(p.logicalrelid, p.partkey) END AS distribution_column,
       NULLIF(p.colocationid, 0) AS colocation_id,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('name', a.attname::text,
                                                      'type', format_type(a.atttypid, a.atttypmod),
                                                      'not_null', a.attnotnull, 'type_oid', a.atttypid::int)
                                   ORDER BY a.attnum)
                   FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                '[]') AS columns,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'name', k.conname::text, 'kind', k.contype::text,
                    'columns', (SELECT jsonb_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                                 WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)),
                    'definition', pg_get_constraintdef(k.oid),
                    'referenced_relid', NULLIF(k.confrelid, 0)::bigint,
                    'referenced', CASE WHEN k.confrelid <> 0 THEN k.confrelid::regclass::text END,
                    'other_kind', (SELECT CASE WHEN pp.logicalrelid IS NULL THEN 'local'
                                         WHEN pp.partmethod = 'n' AND pp.repmodel = 't' THEN 'reference'
                                         WHEN pp.partmethod = 'h' THEN 'distributed' ELSE 'other' END
                                    FROM (SELECT 1) one
                                    LEFT JOIN pg_dist_partition pp ON pp.logicalrelid = k.confrelid),
                    'other_colocation', (SELECT NULLIF(pp.colocationid, 0) FROM pg_dist_partition pp
                                          WHERE pp.logicalrelid = k.confrelid)) ORDER BY k.conname)
                   FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'f', 'x')), '[]')
           AS constraints,
       COALESCE((SELECT jsonb_agg(jsonb_build_object(
                    'name', k.conname::text, 'kind', 'f',
                    'columns', (SELECT jsonb_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                                 WHERE a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)),
                    'definition', pg_get_constraintdef(k.oid),
                    'referenced_relid', k.conrelid::bigint, 'referenced', k.conrelid::regclass::text,
                    'other_kind', (SELECT CASE WHEN pp.logicalrelid IS NULL THEN 'local'
                                         WHEN pp.partmethod = 'n' AND pp.repmodel = 't' THEN 'reference'
                                         WHEN pp.partmethod = 'h' THEN 'distributed' ELSE 'other' END
                                    FROM (SELECT 1) one
                                    LEFT JOIN pg_dist_partition pp ON pp.logicalrelid = k.conrelid),
                    'other_colocation', (SELECT NULLIF(pp.colocationid, 0) FROM pg_dist_partition pp
                                          WHERE pp.logicalrelid = k.conrelid))
                    ORDER BY k.conname)
                   FROM pg_constraint k WHERE k.confrelid = c.oid AND k.contype = 'f' AND k.conrelid <> c.oid), '[]')
           AS referencing,
       COALESCE((SELECT jsonb_agg(o.logicalrelid::regclass::text ORDER BY o.logicalrelid::regclass::text)
                   FROM pg_dist_partition o
                  WHERE p.colocationid <> 0 AND o.colocationid = p.colocationid AND o.logicalrelid <> c.oid), '[]')
           AS colocated,
       COALESCE((SELECT jsonb_agg(g.grantee || ': ' || g.privileges ORDER BY g.grantee)
                   FROM (SELECT grantee::text, string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges
                           FROM information_schema.role_table_grants
                          WHERE table_schema = n.nspname AND table_name = c.relname GROUP BY grantee) g), '[]')
           AS grants
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
 WHERE c.oid = %s AND c.relkind IN ('r', 'p')
"""


@dataclass(frozen=True)
class _InfoRow:
    relid: int
    schema: str
    name: str
    owner: str
    estimated_rows: int
    local_bytes: int
    kind: str
    distribution_column: str | None
    colocation_id: int | None
    columns: list[dict[str, object]]
    constraints: list[dict[str, object]]
    referencing: list[dict[str, object]]
    colocated: list[str]
    grants: list[str]


def table_info(sess: Session, relid: int) -> TableInfo | None:
    row = sess.fetch_one(_TABLE_INFO, (relid,), row=_InfoRow)
    if row is None:
        return None
    return TableInfo(
        relid=row.relid,
        schema=row.schema,
        name=row.name,
        owner=row.owner,
        estimated_rows=max(row.estimated_rows, 0),
        local_bytes=row.local_bytes,
        kind=row.kind,
        distribution_column=row.distribution_column,
        colocation_id=row.colocation_id,
        columns=[Column(**c) for c in row.columns],  # type: ignore[arg-type]
        constraints=[Constraint(**c) for c in row.constraints],  # type: ignore[arg-type]
        referencing=[Constraint(**c) for c in row.referencing],  # type: ignore[arg-type]
        colocated=list(row.colocated),
        grants=list(row.grants),
    )


def count_rows(sess: Session, schema: str, name: str, *, timeout_ms: int = 5000) -> int | None:
    """Exact row count of a local table (coordinator only); None when it takes longer than the timeout."""
    from citusadmin.citus.errors import QueryTimeout

    try:
        with sess.statement_timeout(timeout_ms):
            return int(
                sess.scalar(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
            )
    except QueryTimeout:
        return None


def find_relid(sess: Session, schema: str, name: str) -> int | None:
    value = sess.scalar(
        "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    )
    return None if value is None else int(value)


@dataclass(frozen=True)
class Placement:
    shardid: int
    shardminvalue: str | None
    shardmaxvalue: str | None
    nodes: list[str]


def shard_page(sess: Session, relid: int, *, after: int | None = None, limit: int = 50) -> list[Placement]:
    """Shards with their hash ranges and the nodes holding them, keyset-paginated by shard id."""
    return sess.fetch_all(
        "SELECT s.shardid, s.shardminvalue, s.shardmaxvalue, "
        "COALESCE(array_agg(nd.nodename || ':' || nd.nodeport ORDER BY nd.nodeid) "
        "         FILTER (WHERE nd.nodeid IS NOT NULL), '{}') AS nodes "
        "FROM pg_dist_shard s LEFT JOIN pg_dist_placement p ON p.shardid = s.shardid "
        "LEFT JOIN pg_dist_node nd ON nd.groupid = p.groupid AND nd.noderole = 'primary' "
        "WHERE s.logicalrelid = %s::oid AND (%s::bigint IS NULL OR s.shardid > %s) "
        "GROUP BY s.shardid, s.shardminvalue, s.shardmaxvalue ORDER BY s.shardid LIMIT %s",
        (relid, after, after, limit),
        row=Placement,
    )


@dataclass(frozen=True)
class Colocation:
    colocation_id: int
    shard_count: int
    column_type: str | None  # None for groups without a distribution column (reference, single shard)
    tables: list[str]
    is_reference: bool = False

    @property
    def caption(self) -> str:
        """What the group is, in words (a reference group used to read "1 shards, -")."""
        if self.is_reference:
            return "reference tables: one shard, a copy on every node"
        shards = f"{self.shard_count} shard{'s' if self.shard_count != 1 else ''}"
        return (
            f"{shards}, distributed by a {self.column_type} column"
            if self.column_type
            else f"{shards}, no distribution column"
        )


def colocation_of(sess: Session, table: str) -> Colocation | None:
    return sess.fetch_one(
        "SELECT c.colocationid AS colocation_id, c.shardcount AS shard_count, "
        "CASE WHEN c.distributioncolumntype <> 0 THEN format_type(c.distributioncolumntype, NULL) END AS column_type, "
        "ARRAY(SELECT logicalrelid::regclass::text FROM pg_dist_partition WHERE colocationid = c.colocationid "
        "      ORDER BY 1) AS tables, (p.partmethod = 'n' AND p.repmodel = 't') AS is_reference "
        "FROM pg_dist_partition p JOIN pg_dist_colocation c ON c.colocationid = p.colocationid "
        "WHERE p.logicalrelid = %s::regclass",
        (table,),
        row=Colocation,
    )


# --- statements ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelationState:
    relid: int
    kind: str  # as in KINDS


_RELATION_STATE = """
SELECT c.oid::bigint AS relid,
       CASE WHEN p.logicalrelid IS NULL THEN 'local'
            WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
            WHEN p.partmethod = 'n' THEN 'citus_local'
            ELSE 'distributed' END AS kind
  FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
 WHERE c.oid = to_regclass(%s)
"""


def relation_state(sess: Session, qualified: str) -> RelationState | None:
    """What a relation is now (coordinator catalogs only); None when it does not exist."""
    return sess.fetch_one(_RELATION_STATE, (qualified,), row=RelationState)


def _regclass(qualified: str) -> sql.Composable:
    return sql.SQL("{}::regclass").format(sql.Literal(qualified))


def distribute_sql(
    qualified: str, column: str, *, shard_count: int | None, colocate_with: str | None, concurrently: bool = False
) -> sql.Composed:
    function = "create_distributed_table_concurrently" if concurrently else "create_distributed_table"
    parts: list[sql.Composable] = [sql.Literal(qualified), sql.Literal(column)]
    if colocate_with:
        parts.append(sql.SQL("colocate_with => {}").format(sql.Literal(colocate_with)))
    if shard_count is not None:
        parts.append(sql.SQL("shard_count => {}").format(sql.Literal(shard_count)))
    return sql.SQL("SELECT {}({})").format(sql.SQL(function), sql.SQL(", ").join(parts))


def reference_sql(qualified: str) -> sql.Composed:
    return sql.SQL("SELECT create_reference_table({})").format(sql.Literal(qualified))


def undistribute_sql(qualified: str, *, cascade: bool) -> sql.Composed:
    return sql.SQL("SELECT undistribute_table({}, cascade_via_foreign_keys => {})").format(
        sql.Literal(qualified), sql.Literal(cascade)
    )


def add_to_metadata_sql(qualified: str, *, cascade: bool) -> sql.Composed:
    return sql.SQL("SELECT citus_add_local_table_to_metadata({}, cascade_via_foreign_keys => {})").format(
        sql.Literal(qualified), sql.Literal(cascade)
    )


def truncate_local_data_sql(qualified: str) -> sql.Composed:
    return sql.SQL("SELECT truncate_local_data_after_distributing_table({})").format(sql.Literal(qualified))


PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def grant_sql(schema: str, name: str, privilege: str, role: str, *, revoke: bool = False) -> sql.Composed:
    if privilege not in PRIVILEGES:
        raise ValueError(privilege)
    template = "REVOKE {} ON {}.{} FROM {}" if revoke else "GRANT {} ON {}.{} TO {}"
    return sql.SQL(template).format(
        sql.SQL(privilege),
        sql.Identifier(schema),
        sql.Identifier(name),
        sql.Identifier(role),
    )


# --- co-location groups and the placement map ---------------------------------------------------------


def colocation_groups(sess: Session, *, after: int | None = None, limit: int = 10) -> list[Colocation]:
    """A page of co-location groups with their tables (keyset on the group id)."""
    return sess.fetch_all(
        "SELECT c.colocationid AS colocation_id, c.shardcount AS shard_count, "
        "CASE WHEN c.distributioncolumntype <> 0 THEN format_type(c.distributioncolumntype, NULL) END AS column_type, "
        "ARRAY(SELECT p.logicalrelid::regclass::text FROM pg_dist_partition p "
        "      WHERE p.colocationid = c.colocationid ORDER BY 1) AS tables, "
        "EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.colocationid = c.colocationid "
        "        AND p.partmethod = 'n' AND p.repmodel = 't') AS is_reference "
        "FROM pg_dist_colocation c "
        "WHERE EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.colocationid = c.colocationid) "
        "AND (%s::int IS NULL OR c.colocationid > %s) ORDER BY c.colocationid LIMIT %s",
        (after, after, limit),
        row=Colocation,
    )


@dataclass(frozen=True)
class GroupPlacement:
    colocation_id: int
    shardid: int
    groupid: int
    position: int


def group_placements(sess: Session, colocation_ids: list[int], *, per_group: int = 256) -> list[GroupPlacement]:
    """For each group, the placements of its first table's first ``per_group`` shards (co-located
    shards of the other tables sit on the same nodes)."""
    return sess.fetch_all(
        "WITH first_table AS (SELECT colocationid, min(logicalrelid::oid) AS relid FROM pg_dist_partition "
        "                     WHERE colocationid = ANY(%s) GROUP BY colocationid), "
        "shards AS (SELECT f.colocationid, s.shardid, "
        "                  row_number() OVER (PARTITION BY f.colocationid ORDER BY s.shardid) AS position "
        "           FROM first_table f JOIN pg_dist_shard s ON s.logicalrelid = f.relid) "
        "SELECT sh.colocationid AS colocation_id, sh.shardid, p.groupid, sh.position::int AS position "
        "FROM shards sh JOIN pg_dist_placement p ON p.shardid = sh.shardid "
        "WHERE sh.position <= %s ORDER BY sh.colocationid, sh.position",
        (colocation_ids, per_group),
        row=GroupPlacement,
    )


# --- schema-based sharding (12.0+) --------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaRow:
    name: str
    owner: str
    tables: int
    distributed: bool
    colocation_id: int | None
    node: str | None = None  # host:port holding a distributed schema's tables (one shard group)


_SCHEMAS = """
SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner,
       (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
           AND NOT relation_is_a_known_shard(c.oid))::int AS tables,
       {distributed} AS distributed, {colocation} AS colocation_id, {node} AS node
  FROM pg_namespace n
 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN
       ('information_schema', 'citus', 'citus_internal', 'columnar', 'columnar_internal')
 ORDER BY 1 LIMIT 500
"""


def list_schemas(sess: Session, *, has_pg_dist_schema: bool) -> list[SchemaRow]:
    if has_pg_dist_schema:
        distributed = sql.SQL("EXISTS (SELECT 1 FROM pg_dist_schema d WHERE d.schemaid = n.oid)")
        colocation = sql.SQL("(SELECT d.colocationid FROM pg_dist_schema d WHERE d.schemaid = n.oid)")
        node = sql.SQL(
            "(SELECT nd.nodename || ':' || nd.nodeport FROM pg_dist_schema d "
            "JOIN pg_dist_partition p ON p.colocationid = d.colocationid "
            "JOIN pg_dist_shard s ON s.logicalrelid = p.logicalrelid "
            "JOIN pg_dist_placement pl ON pl.shardid = s.shardid "
            "JOIN pg_dist_node nd ON nd.groupid = pl.groupid AND nd.noderole = 'primary' "
            "WHERE d.schemaid = n.oid LIMIT 1)"
        )
    else:  # before Citus 12.0
        distributed, colocation, node = sql.SQL("false"), sql.SQL("NULL::int"), sql.SQL("NULL::text")
    query = sql.SQL(_SCHEMAS).format(distributed=distributed, colocation=colocation, node=node)
    return sess.fetch_all(query, row=SchemaRow)


def schema_distribute_sql(schema: str, *, undistribute: bool = False) -> sql.Composed:
    function = "citus_schema_undistribute" if undistribute else "citus_schema_distribute"
    return sql.SQL("SELECT {}({}::regnamespace)").format(sql.SQL(function), sql.Literal(schema))
