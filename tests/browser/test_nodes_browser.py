"""Adding a node through the pages in a real browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_an_admin_adds_a_node_and_sees_it_listed(live_server, admin, cluster_row, spare_node, browser_page):
    page = browser_page
    sign_in(page, live_server, admin)
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/")
    page.click("nav >> text=Nodes")
    page.click("text=Add a node…")
    page.fill("#id_host", "127.0.0.1")
    page.fill("#id_port", str(spare_node.port))
    page.click("button:has-text('Preview')")
    assert f"citus_add_node('127.0.0.1', {spare_node.port})" in page.inner_text("#preview-sql")
    page.click("button:has-text('Add the node')")
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/nodes/")
    assert f"127.0.0.1:{spare_node.port}" in page.inner_text("#node-table")
    assert "Added 127.0.0.1" in page.inner_text(".messages")
    assert page.console_errors == []
