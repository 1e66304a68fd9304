"""A Patroni switchover driven in Chromium: the HA page, the preview with the exact HTTP request, the
confirmation dialog naming it, the job's steps, and the HA page showing the new leader."""

from __future__ import annotations

import time

import pytest

from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.broker]


def test_an_admin_switches_a_worker_group_over(
    live_server, admin, patroni_row, patroni_cluster, job_worker, browser_page
):
    patroni_cluster.wait_healthy()
    page = browser_page
    leader = patroni_cluster.leader(1)
    candidate = next(m for m in patroni_cluster.group_members(1) if m.name != leader)
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/c/{patroni_row.pk}/ha/")
    group = page.locator("#group-1")
    assert "agrees" in group.inner_text()
    group.locator(f"tr[data-member='{candidate.name}'] a:has-text('Switch over to')").click()
    page.click("button:has-text('Preview')")
    preview = page.inner_text("#preview-sql")
    assert "/switchover" in preview and candidate.name in preview and leader in preview
    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("button:has-text('Switch over')")
    page.wait_for_url("**/jobs/*/")
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        if page.get_attribute("#job-progress", "data-state") in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert page.get_attribute("#job-progress", "data-state") == "succeeded", job_worker.logs()
    assert dialogs and "/switchover" in dialogs[0]
    log = page.inner_text("#job-log")
    assert "pg_dist_node points at" in log and "The coordinator reaches" in log
    page.goto(f"{live_server.url}/c/{patroni_row.pk}/ha/")
    row = page.locator(f"#group-1 tr[data-member='{candidate.name}']")
    assert "leader" in (row.get_attribute("class") or "")
    assert page.console_errors == []
