"""Distributing a table through the form in a real browser."""

from __future__ import annotations

import pytest

from tests.helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def plain_table(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE b_accounts (tenant int, id int, PRIMARY KEY (tenant, id))")
        conn.execute("INSERT INTO b_accounts SELECT g % 7, g FROM generate_series(1, 700) g")
        relid = conn.execute("SELECT 'b_accounts'::regclass::oid::bigint").fetchone()[0]
    yield relid
    with citus.connect() as conn:
        conn.execute("DROP TABLE b_accounts")


def test_an_admin_distributes_a_table_through_the_form(
    live_server, admin, cluster_row, plain_table, citus, browser_page
):
    page = browser_page
    sign_in(page, live_server, admin)
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/")
    page.click("nav >> text=Tables")
    page.click("#table-list >> text=b_accounts")
    page.click("text=Distribute…")
    page.select_option("#id_column", "tenant")
    page.fill("#id_shard_count", "4")
    page.click("button:has-text('Check and preview')")
    assert "create_distributed_table" in page.inner_text("#preview-sql")
    assert "700 rows" in page.content()
    page.click("button:has-text('Distribute')")
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/tables/{plain_table}/")
    assert "is now distributed by tenant" in page.inner_text(".messages")
    assert page.locator("#shards tbody tr").count() == 4
    with citus.connect() as conn:
        assert conn.execute("SELECT count(*) FROM b_accounts").fetchone()[0] == 700
    assert page.console_errors == []


@pytest.fixture
def named_things(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE br_items (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('br_items', 'id', shard_count => 4)")
        conn.execute("DROP ROLE IF EXISTS br_reader")
        conn.execute("CREATE ROLE br_reader")
        conn.execute("GRANT SELECT ON br_items TO br_reader")
        conn.execute("CREATE SCHEMA br_tenant")
        conn.execute("CREATE TABLE br_tenant.t (id int PRIMARY KEY)")
        conn.execute("SELECT citus_schema_distribute('br_tenant')")
        relid = conn.execute("SELECT 'br_items'::regclass::oid::bigint").fetchone()[0]
        holder = conn.execute(
            "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid) "
            "JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'br_tenant.t'::regclass"
        ).fetchone()[0]
    yield {"relid": relid, "holder": holder}
    with citus.connect() as conn:
        conn.execute("DROP SCHEMA br_tenant CASCADE")
        conn.execute("DROP TABLE br_items")
        conn.execute("DROP ROLE br_reader")


def test_pages_say_what_happened_and_name_things(live_server, admin, cluster_row, named_things, browser_page):
    page = browser_page
    sign_in(page, live_server, admin)
    relid = named_things["relid"]
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/tables/{relid}/grant/")
    page.select_option("select[name=privilege]", "SELECT")
    page.fill("input[name=role]", "br_reader")
    page.check("input[name=revoke]")
    page.get_by_role("button", name="Preview").click()
    assert page.get_by_role("button", name="Revoke", exact=True).is_visible()
    assert page.get_by_role("button", name="Grant", exact=True).count() == 0
    page.get_by_role("button", name="Revoke", exact=True).click()
    page.wait_for_load_state()
    assert "Revoked SELECT on public.br_items from br_reader" in page.inner_text("main")
    assert '"public"' not in page.inner_text("h1")
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/tables/{relid}/vacuum/")
    assert page.get_by_role("button", name="Preview again").count() == 0  # nothing to change on this preview
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/schemas/")
    row = page.locator("tr", has_text="br_tenant")
    assert f"127.0.0.1:{named_things['holder']}" in row.inner_text()
    assert page.console_errors == []
