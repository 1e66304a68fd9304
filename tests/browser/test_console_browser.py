"""The console in a real browser: sign in, switch cluster, test a connection through htmx."""

from __future__ import annotations

import pytest

from tests.helpers import sign_in

pytestmark = pytest.mark.browser


def test_it_signs_in_and_tests_a_connection_without_reloading(live_server, admin, cluster_row, browser_page):
    page = browser_page
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    page.fill("#id_username", admin.username)
    page.fill("#id_password", "alice-admin-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/")
    assert page.locator("h1").inner_text().startswith(cluster_row.name)
    assert page.locator("table.grid tbody tr").count() == 3  # coordinator + 2 workers

    page.click("text=Connection & extension")
    page.evaluate("window.__noReload = true")
    page.click("button:has-text('Test connection')")
    page.wait_for_selector("#test-result .banner-ok", timeout=15000)
    assert "Connected" in page.inner_text("#test-result")
    assert "2 worker(s)" in page.inner_text("#test-result")
    assert page.evaluate("window.__noReload") is True  # swapped in place by htmx, CSRF header accepted
    assert page.console_errors == []  # no CSP violation, no script error

    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{live_server.url}/login/")


@pytest.fixture
def other_cluster(db):
    from clusters.models import Cluster

    return Cluster.objects.create(name="zz-other", host="127.0.0.1", port=1, sslmode="disable")


# ORM work happens in fixtures listed before browser_page: once Playwright's event loop runs, Django
# would open a separate, unclosed connection for an async context.
def test_the_cluster_switcher_navigates(live_server, viewer, cluster_row, other_cluster, browser_page):
    other = other_cluster
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", "victor-viewer-password-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/")
    page.select_option("#cluster-switcher", f"/c/{other.pk}/")
    page.wait_for_url(f"{live_server.url}/c/{other.pk}/")
    assert "Connection refused" in page.content()


def test_register_a_cluster_filled_top_to_bottom_saves(live_server, admin, browser_page):
    """The Name field appeared twice ("name" is inside "dbname"), and the empty second one won."""
    page = browser_page
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/clusters/add/")
    assert page.locator("input[name=name]").count() == 1
    labels = page.locator("form label").all_inner_texts()
    assert "SSL mode:" in labels and "Minimum TLS version:" in labels and "Sslmode:" not in labels
    page.fill("input[name=name]", "typed-top-down")
    page.fill("input[name=host]", "127.0.0.1")
    page.fill("input[name=port]", "1")
    page.fill("input[name=dbname]", "postgres")
    page.fill("input[name=user]", "postgres")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "typed-top-down" in page.content()
    assert "/clusters/add/" not in page.url


def test_the_switcher_marks_the_cluster_on_every_cluster_page(client, viewer, cluster_row, other_cluster):
    """Operation pages (formerly regex routes) passed cluster_id as a string and marked nothing."""
    client.force_login(viewer)
    for url in (
        f"/c/{cluster_row.pk}/",
        f"/c/{cluster_row.pk}/nodes/1/update/",
        f"/c/{cluster_row.pk}/tables/1/alter/",
        f"/c/{cluster_row.pk}/tables/",
    ):
        body = client.get(url).content.decode()
        assert f'<option value="/c/{cluster_row.pk}/" selected>' in body, url


def test_the_audit_filter_bar_wraps_in_a_1400_px_window(live_server, auditor, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    sign_in(page, live_server, auditor)
    page.goto(f"{live_server.url}/audit/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1400, f"the audit page is {width} px wide"
    assert page.locator("#audit-filters").bounding_box()["width"] <= 1400
