"""Tables against the real cluster: listing, details, distribution and its refusals."""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from audit.models import AuditEntry

WEIRD = 'Wéird "T"; <script>alert(1)</script>'


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def sample(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE t_orders (tenant int, id bigint, note text, PRIMARY KEY (tenant, id))")
        conn.execute("INSERT INTO t_orders SELECT g % 10, g, 'n' FROM generate_series(1, 5000) g")
        conn.execute("CREATE TABLE t_dist (id bigint PRIMARY KEY, v text)")
        conn.execute("SELECT create_distributed_table('t_dist', 'id', shard_count => 4)")
        conn.execute("CREATE TABLE t_ref (code text PRIMARY KEY)")
        conn.execute("SELECT create_reference_table('t_ref')")
        conn.execute("CREATE TABLE t_badpk (id int PRIMARY KEY, tenant int)")
        conn.execute("CREATE TABLE t_textkey (k text PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('t_textkey', 'k')")
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(WEIRD)))
        conn.execute(sql.SQL("INSERT INTO {} SELECT generate_series(1, 10)").format(sql.Identifier(WEIRD)))
        oids = dict(
            conn.execute(
                "SELECT relname::text, oid::bigint FROM pg_class WHERE relname IN "
                "('t_orders', 't_dist', 't_ref', 't_badpk', 't_textkey') OR relname = %s",
                (WEIRD,),
            ).fetchall()
        )
    yield oids
    with citus.connect() as conn:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS t_orders, t_dist, t_ref, t_badpk, t_textkey, {} CASCADE").format(
                sql.Identifier(WEIRD)
            )
        )


def _kind(citus, name: str) -> str | None:
    with citus.connect() as conn:
        row = conn.execute(
            "SELECT partmethod::text, repmodel::text FROM pg_dist_partition WHERE logicalrelid = %s::regclass",
            (sql.Identifier(name).as_string(),),
        ).fetchone()
    return None if row is None else ("reference" if row == ("n", "t") else row[0])


def _count(citus, name: str) -> int:
    with citus.connect() as conn:
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()[0]


def test_the_list_shows_every_kind(client, viewer, cluster_row, sample):
    client.force_login(viewer)
    body = text(client.get(f"/c/{cluster_row.pk}/tables/"))
    for name in ("t_orders", "t_dist", "t_ref", "t_badpk"):
        assert name in body
    assert ">distributed<" in body and ">reference<" in body and ">local<" in body
    assert "<script>alert(1)</script>" not in client.get(f"/c/{cluster_row.pk}/tables/").content.decode()
    filtered = text(client.get(f"/c/{cluster_row.pk}/tables/?kind=reference"))
    assert "t_ref" in filtered and "t_dist" not in filtered


def _cost(client, url, coordinator_queries):
    client.get(url)
    before = coordinator_queries.count
    with CaptureQueriesContext(connection) as app:
        assert client.get(url).status_code == 200
    return coordinator_queries.count - before, len(app)


def test_list_and_detail_cost_the_same_at_two_sizes(client, viewer, cluster_row, sample, citus, coordinator_queries):
    client.force_login(viewer)
    small = (
        _cost(client, f"/c/{cluster_row.pk}/tables/", coordinator_queries),
        _cost(client, f"/c/{cluster_row.pk}/tables/{sample['t_dist']}/", coordinator_queries),
    )
    with citus.connect() as conn:
        for i in range(60):
            conn.execute(f"CREATE TABLE t_many_{i} (id int)")
            conn.execute(f"SELECT create_distributed_table('t_many_{i}', 'id', shard_count => 2)")
        conn.execute("CREATE TABLE t_wide (id int)")
        conn.execute("SELECT create_distributed_table('t_wide', 'id', shard_count => 128)")
        wide = conn.execute("SELECT 't_wide'::regclass::oid::bigint").fetchone()[0]
    try:
        large = (
            _cost(client, f"/c/{cluster_row.pk}/tables/", coordinator_queries),
            _cost(client, f"/c/{cluster_row.pk}/tables/{wide}/", coordinator_queries),
        )
        assert small == large, (small, large)
        page = text(client.get(f"/c/{cluster_row.pk}/tables/{wide}/"))
        assert page.count('<tr><td class="num">') <= 50 and "Next shards" in page  # paginated by key
        listing = text(client.get(f"/c/{cluster_row.pk}/tables/"))
        assert "Next →" in listing
    finally:
        with citus.connect() as conn:
            for i in range(60):
                conn.execute(f"DROP TABLE t_many_{i}")
            conn.execute("DROP TABLE t_wide")


def test_the_detail_page_shows_structure_and_placements(client, viewer, cluster_row, sample):
    client.force_login(viewer)
    body = text(client.get(f"/c/{cluster_row.pk}/tables/{sample['t_dist']}/"))
    assert "PRIMARY KEY (id)" in body and 'id="shards"' in body and "127.0.0.1:" in body
    assert client.get(f"/c/{cluster_row.pk}/tables/999999999/").status_code == 404


def test_it_distributes_a_table_with_data_after_a_preview(client, admin, cluster_row, sample, citus):
    client.force_login(admin)
    url = f"/c/{cluster_row.pk}/tables/{sample['t_orders']}/distribute/"
    preview = text(client.post(url, {"column": "tenant", "shard_count": "8", "colocate_with": "default"}))
    assert "SELECT create_distributed_table('\"public\".\"t_orders\"', 'tenant', shard_count => 8)" in preview
    assert "ExclusiveLock" in preview and "5,000 rows" in preview and "undistribute" in preview
    assert _kind(citus, "t_orders") is None
    before = _count(citus, "t_orders")
    body = text(
        client.post(
            url, {"column": "tenant", "shard_count": "8", "colocate_with": "default", "confirm": "yes"}, follow=True
        )
    )
    assert "is now distributed by tenant" in body
    assert _kind(citus, "t_orders") == "h" and _count(citus, "t_orders") == before
    entry = AuditEntry.objects.get(action="tables.distribute_table")
    assert entry.outcome == "succeeded" and "create_distributed_table" in entry.sql


def test_reference_then_undistribute_keep_every_row(client, admin, cluster_row, sample, citus):
    client.force_login(admin)
    relid = sample["t_badpk"]
    with citus.connect() as conn:
        conn.execute("INSERT INTO t_badpk SELECT g, g FROM generate_series(1, 300) g")
    client.post(f"/c/{cluster_row.pk}/tables/{relid}/reference/", {"confirm": "yes"})
    assert _kind(citus, "t_badpk") == "reference" and _count(citus, "t_badpk") == 300
    client.post(f"/c/{cluster_row.pk}/tables/{relid}/undistribute/", {"confirm": "yes"})
    assert _kind(citus, "t_badpk") is None and _count(citus, "t_badpk") == 300


def test_a_strange_name_is_shown_harmlessly_and_sent_safely(client, admin, cluster_row, sample, citus):
    client.force_login(admin)
    relid = sample[WEIRD]
    raw = client.get(f"/c/{cluster_row.pk}/tables/{relid}/").content.decode()
    assert "<script>alert(1)</script>" not in raw and "&lt;script&gt;" in raw
    client.post(
        f"/c/{cluster_row.pk}/tables/{relid}/distribute/",
        {"column": "id", "shard_count": "2", "colocate_with": "none", "confirm": "yes"},
    )
    assert _kind(citus, WEIRD) == "h" and _count(citus, WEIRD) == 10


@pytest.mark.parametrize("shard_count", ["0", "-1", "64001", "many"])
def test_bad_shard_counts_are_refused_before_any_sql(client, admin, cluster_row, sample, citus, shard_count):
    client.force_login(admin)
    body = text(
        client.post(
            f"/c/{cluster_row.pk}/tables/{sample['t_orders']}/distribute/",
            {"column": "tenant", "shard_count": shard_count, "colocate_with": "default", "confirm": "yes"},
        )
    )
    assert "errorlist" in body
    assert _kind(citus, "t_orders") is None
    assert not AuditEntry.objects.filter(action="tables.distribute_table").exists()


@pytest.mark.parametrize(
    ("table", "data", "message"),
    [
        ("t_badpk", {"column": "tenant"}, "does not include tenant"),
        ("t_dist", {"column": "id"}, "already a distributed table"),
        ("t_orders", {"column": "tenant", "colocate_with": "t_textkey"}, "Co-located tables need the same"),
        ("t_orders", {"column": "nope"}, "Select a valid choice"),
    ],
)
def test_what_citus_would_refuse_is_explained_and_not_sent(
    client, admin, cluster_row, sample, citus, table, data, message
):
    client.force_login(admin)
    form = {"shard_count": "", "colocate_with": "default", "confirm": "yes", **data}
    body = text(client.post(f"/c/{cluster_row.pk}/tables/{sample[table]}/distribute/", form))
    assert message in body
    assert not AuditEntry.objects.filter(action="tables.distribute_table").exists()


def test_grant_propagates_to_the_shards(client, admin, cluster_row, sample, citus):
    with citus.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS t_reader")
        conn.execute("CREATE ROLE t_reader")
    try:
        client.force_login(admin)
        url = f"/c/{cluster_row.pk}/tables/{sample['t_dist']}/grant/"
        preview = client.post(url, {"privilege": "SELECT", "role": "t_reader", "revoke": "on"}).content.decode()
        assert ">Revoke</button>" in preview and ">Grant</button>" not in preview
        preview = client.post(url, {"privilege": "SELECT", "role": "t_reader"}).content.decode()
        assert ">Grant</button>" in preview
        done = text(client.post(url, {"privilege": "SELECT", "role": "t_reader", "confirm": "yes"}, follow=True))
        assert "Granted SELECT on public.t_dist to t_reader" in done
        body = text(client.get(f"/c/{cluster_row.pk}/tables/{sample['t_dist']}/"))
        assert "t_reader: SELECT" in body
        with citus.connect() as conn:
            results = conn.execute(
                "SELECT result FROM run_command_on_shards('t_dist', $$SELECT has_table_privilege('t_reader', '%s', 'SELECT')$$)"
            ).fetchall()
        assert results and all(r[0] == "t" for r in results)
    finally:
        with citus.connect() as conn:
            conn.execute("REVOKE ALL ON t_dist FROM t_reader")
            conn.execute("DROP ROLE t_reader")


def test_the_placement_map_shows_shards_per_node_with_sizes_and_skew(
    client, viewer, cluster_row, sample, citus, coordinator_queries
):
    from monitoring.collector import collect

    with citus.connect() as conn:
        conn.execute("INSERT INTO t_dist SELECT g, repeat('x', 300) FROM generate_series(1, 4000) g")
    collect(cluster_row)
    client.force_login(viewer)
    body = text(client.get(f"/c/{cluster_row.pk}/placements/"))
    assert "t_dist" in body and "t_textkey" in body and 'class="sq sz' in body
    for worker in citus.workers:
        assert f"127.0.0.1:{worker.port}" in body
    assert "Skew between nodes: bytes" in body
    detail = text(client.get(f"/c/{cluster_row.pk}/tables/{sample['t_dist']}/"))
    assert "\xa0KB</td>" in detail  # per-shard sizes from the latest collection
    small = _cost(client, f"/c/{cluster_row.pk}/placements/", coordinator_queries)
    with citus.connect() as conn:
        for i in range(15):
            conn.execute(f"CREATE TABLE t_map_{i} (id int)")
            conn.execute(
                f"SELECT create_distributed_table('t_map_{i}', 'id', shard_count => {i + 2}, colocate_with => 'none')"
            )
    try:
        large = _cost(client, f"/c/{cluster_row.pk}/placements/", coordinator_queries)
        assert small == large
        assert "More groups" in text(client.get(f"/c/{cluster_row.pk}/placements/"))
    finally:
        with citus.connect() as conn:
            for i in range(15):
                conn.execute(f"DROP TABLE t_map_{i}")


def test_a_schema_is_distributed_and_undistributed(client, admin, cluster_row, citus):
    with citus.connect() as conn:
        conn.execute("CREATE SCHEMA tenant_a")
        conn.execute("CREATE TABLE tenant_a.items (id int PRIMARY KEY)")
        conn.execute("INSERT INTO tenant_a.items SELECT generate_series(1, 50)")
    try:
        client.force_login(admin)
        preview = text(client.post(f"/c/{cluster_row.pk}/schemas/change/", {"schema": "tenant_a"}))
        assert "SELECT citus_schema_distribute('tenant_a'::regnamespace)" in preview
        client.post(f"/c/{cluster_row.pk}/schemas/change/", {"schema": "tenant_a", "confirm": "yes"})
        with citus.connect() as conn:
            assert (
                conn.execute(
                    "SELECT count(*) FROM pg_dist_schema WHERE schemaid = 'tenant_a'::regnamespace"
                ).fetchone()[0]
                == 1
            )
            assert conn.execute("SELECT count(*) FROM tenant_a.items").fetchone()[0] == 50
            holder = conn.execute(
                "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid) "
                "JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'tenant_a.items'::regclass"
            ).fetchone()[0]
        schemas = client.get(f"/c/{cluster_row.pk}/schemas/").content.decode()
        row = schemas.split("<td>tenant_a</td>")[1].split("</tr>")[0]
        assert f"<code>127.0.0.1:{holder}</code>" in row  # the node that holds the schema, not a group id
        client.post(f"/c/{cluster_row.pk}/schemas/change/", {"schema": "tenant_a", "confirm": "yes"})
        with citus.connect() as conn:
            assert conn.execute("SELECT count(*) FROM pg_dist_schema").fetchone()[0] == 0
        assert [e.outcome for e in AuditEntry.objects.filter(action__endswith="_schema")] == ["succeeded", "succeeded"]
    finally:
        with citus.connect() as conn:
            conn.execute("DROP SCHEMA tenant_a CASCADE")


def test_a_foreign_key_to_a_plain_table_is_explained(client, admin, cluster_row, citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE fk_parent (id int PRIMARY KEY)")
        conn.execute("CREATE TABLE fk_child (id int, parent int REFERENCES fk_parent (id), PRIMARY KEY (id, parent))")
        relid = conn.execute("SELECT 'fk_child'::regclass::oid::bigint").fetchone()[0]
    try:
        client.force_login(admin)
        body = text(
            client.post(
                f"/c/{cluster_row.pk}/tables/{relid}/distribute/",
                {"column": "parent", "colocate_with": "default", "confirm": "yes"},
            )
        )
        assert "references the plain table fk_parent" in body
        assert _kind(citus, "fk_child") is None
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE fk_child, fk_parent")


def test_sorting_by_shard_count_pages_by_key(client, viewer, cluster_row, citus):
    with citus.connect() as conn:
        for i in range(55):
            conn.execute(f"CREATE TABLE s_{i:02d} (id int)")
            conn.execute(f"SELECT create_distributed_table('s_{i:02d}', 'id', shard_count => {i + 1})")
    try:
        client.force_login(viewer)
        first = client.get(f"/c/{cluster_row.pk}/tables/?sort=shards")
        names = [t.name for t, _ in first.context["rows"]]
        assert names[:3] == ["s_54", "s_53", "s_52"]
        second = client.get(f"/c/{cluster_row.pk}/tables/?sort=shards&after={first.context['next_after']}")
        rest = [t.name for t, _ in second.context["rows"]]
        assert rest[:5] == ["s_04", "s_03", "s_02", "s_01", "s_00"] and not set(names) & set(rest)
    finally:
        with citus.connect() as conn:
            for i in range(55):
                conn.execute(f"DROP TABLE s_{i:02d}")


def test_a_local_table_is_added_to_metadata(client, admin, cluster_row, citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE meta_t (id int PRIMARY KEY)")
        relid = conn.execute("SELECT 'meta_t'::regclass::oid::bigint").fetchone()[0]
    try:
        client.force_login(admin)
        page = client.post(f"/c/{cluster_row.pk}/tables/{relid}/add-to-metadata/", {"confirm": "yes"}, follow=True)
        assert _kind(citus, "meta_t") == "n"  # a Citus-local table (under a new oid: the page follows it)
        assert "citus_local" in text(page) and "metadata (a Citus local table)" in text(page)
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE meta_t")


def test_groups_are_captioned_in_words_and_the_table_page_leads_back(client, viewer, cluster_row, citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE cap_ref (id int PRIMARY KEY)")
        conn.execute("SELECT create_reference_table('cap_ref')")
        relid = conn.execute("SELECT 'cap_ref'::regclass::oid::bigint").fetchone()[0]
    try:
        client.force_login(viewer)
        body = text(client.get(f"/c/{cluster_row.pk}/placements/"))
        assert "reference tables: one shard, a copy on every node" in body
        assert "1 shards" not in body and "shards, -" not in body
        page = client.get(f"/c/{cluster_row.pk}/tables/{relid}/").content.decode()
        assert f'<a href="/c/{cluster_row.pk}/tables/">Tables</a>' in page and "<h1>" in page
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE cap_ref")


def test_names_are_quoted_only_where_postgresql_needs_it():
    from citusadmin.citus.tables import display_name

    assert display_name("public", "om_x") == "public.om_x"
    assert display_name("public", "Order items") == 'public."Order items"'
    assert display_name("public", "order") == 'public."order"'
    assert display_name("my schema", 'a"b') == '"my schema"."a""b"'
