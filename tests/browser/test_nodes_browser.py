"""Adding a node through the pages in a real browser."""

from __future__ import annotations

import pytest

from tests.helpers import sign_in

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


def test_destructive_buttons_ask_once_more_and_a_no_changes_nothing(
    live_server, admin, cluster_row, citus, browser_page
):
    """One rule: preview page with the SQL, then a dialog naming the subject. "Force remove" carried
    data-confirm on its button, which the page never read (it read the form's)."""
    worker = citus.workers[0]
    with citus.connect() as conn:
        nodeid = conn.execute("SELECT nodeid FROM pg_dist_node WHERE nodeport = %s", (worker.port,)).fetchone()[0]
        conn.execute("CREATE TABLE confirm_t (id bigint PRIMARY KEY)")  # the worker holds data: Force remove
        conn.execute("SELECT create_distributed_table('confirm_t', 'id', shard_count => 4)")
    try:
        _refuse_everything(live_server, admin, cluster_row, citus, browser_page, worker, nodeid)
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE confirm_t")


def _refuse_everything(live_server, admin, cluster_row, citus, browser_page, worker, nodeid) -> None:
    page = browser_page
    dialogs: list[str] = []

    def answer_no(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer_no)
    sign_in(page, live_server, admin)
    for op, button in (("disable", "Disable"), ("remove", "Force remove")):
        page.goto(f"{live_server.url}/c/{cluster_row.pk}/nodes/{nodeid}/{op}/")
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_timeout(300)
        assert f"/nodes/{nodeid}/{op}/" in page.url  # still on the preview: nothing was sent
    assert len(dialogs) == 2 and all(f"127.0.0.1:{worker.port}" in m for m in dialogs), dialogs
    with citus.connect() as conn:
        assert conn.execute("SELECT isactive FROM pg_dist_node WHERE nodeid = %s", (nodeid,)).fetchone()[0] is True
