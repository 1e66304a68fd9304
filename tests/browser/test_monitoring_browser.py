"""The monitoring panels in real Chromium: they refresh on their own, and Pause holds them."""

from __future__ import annotations

import time

import pytest

from monitoring import collector
from tests.helpers import sign_in

pytestmark = pytest.mark.browser


def test_health_refreshes_itself_and_pauses(
    live_server, viewer, cluster_row, browser_page, settings, tmp_path, worker_heartbeat
):
    settings.MONITORING_REFRESH_SECONDS = 2
    collector.collect(cluster_row)
    page = browser_page
    sign_in(page, live_server, viewer)
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/monitoring/health/")
    assert page.get_attribute("#overall", "data-status") in ("green", "amber")
    first = page.inner_text("#measured-at")
    page.wait_for_function(
        "text => document.getElementById('measured-at').innerText !== text", arg=first, timeout=10_000
    )
    page.screenshot(path=str(tmp_path / "health.png"), full_page=True)

    polls: list[str] = []
    page.on("request", lambda request: "/monitoring/health/" in request.url and polls.append(request.url))
    page.check("#pause-refresh")
    time.sleep(5)
    assert polls == []  # paused: no request at all
    page.uncheck("#pause-refresh")
    page.wait_for_timeout(3500)
    assert polls, "refresh did not resume"

    page.goto(f"{live_server.url}/c/{cluster_row.pk}/monitoring/history/")
    assert page.locator("svg.chart").count() == 3
    page.screenshot(path="/tmp/history.png", full_page=True)
    assert page.console_errors == []
