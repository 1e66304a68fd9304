"""Distributing a table through the form in a real browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in

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
