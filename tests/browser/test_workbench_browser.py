"""The query workbench in a real browser: from the Queries tab's statement to the plan, the advice,
and the action it links to."""

from __future__ import annotations

import pytest

from tests.helpers import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def unjoined(citus):
    with citus.connect() as conn:
        conn.execute("CREATE TABLE bw_orders (id bigint, customer_id bigint, PRIMARY KEY (customer_id, id))")
        conn.execute("SELECT create_distributed_table('bw_orders', 'customer_id', shard_count => 4)")
        conn.execute("CREATE TABLE bw_kinds (id bigint PRIMARY KEY, label text)")
        conn.execute("SELECT create_distributed_table('bw_kinds', 'id', shard_count => 4, colocate_with => 'none')")
        conn.execute("INSERT INTO bw_kinds SELECT g, 'k' || g FROM generate_series(1, 20) g")
        conn.execute("ANALYZE bw_kinds")
        relid = conn.execute("SELECT 'bw_kinds'::regclass::oid::bigint").fetchone()[0]
    yield relid
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS bw_orders, bw_kinds")


def test_explain_advice_and_the_linked_action(live_server, admin, cluster_row, unjoined, browser_page):
    page = browser_page
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/monitoring/workbench/")
    # a join on a column that is not the distribution column, with a small table: make it a reference table
    page.fill("#id_query", "SELECT count(*) FROM bw_orders o JOIN bw_kinds k ON k.id = o.id")
    page.click("button:has-text('Explain')")
    page.wait_for_selector("#plan-shape")
    assert page.get_attribute("#plan-shape", "data-shape") == "repartition"
    assert page.locator("#plan-tree li.citus").count() >= 1
    assert "make it a reference table" in page.inner_text("#workbench-advice")
    page.click("#workbench-advice .advice-action")
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/tables/{unjoined}/reference/")
    assert "Make a reference table" in page.inner_text("h1")
    assert "create_reference_table" in page.content()
    assert page.console_errors == []  # type: ignore[attr-defined]
