"""A rebalance watched in a real browser: live progress, reload mid-way, polling stops at the end."""

from __future__ import annotations

import time

import pytest

from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.broker]


def test_an_operator_watches_a_rebalance(live_server, operator, cluster_row, unbalanced, job_worker, browser_page):
    page = browser_page
    sign_in(page, live_server, operator)
    page.wait_for_url(f"{live_server.url}/c/{cluster_row.pk}/")
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/rebalance/")
    page.select_option("#id_transfer_mode", "force_logical")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#plan")
    page.click("button:has-text('Start the rebalance')")
    page.wait_for_url("**/jobs/*/")
    job_url = page.url

    seen: set[str] = set()
    reloaded = False
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = page.get_attribute("#job-progress", "data-state")
        value = page.get_attribute("#job-bar", "value") if page.locator("#job-bar[value]").count() else None
        if value is not None:
            seen.add(value)
        if not reloaded and len(seen) >= 2 and state == "running":
            page.reload()  # the same state after a reload, and it carries on
            assert page.url == job_url
            assert page.get_attribute("#job-progress", "data-state") == "running"
            reloaded = True
        if state in ("succeeded", "failed", "cancelled", "interrupted"):
            break
        time.sleep(0.3)
    assert page.get_attribute("#job-progress", "data-state") == "succeeded", job_worker.logs()
    assert len(seen) >= 2, seen
    assert reloaded
    assert "succeeded" in page.inner_text("#job-summary") or "finished" in page.inner_text("#job-summary")
    assert page.get_attribute("#job-progress", "hx-trigger") is None
    polls: list[str] = []
    page.on("request", lambda request: "/progress/" in request.url and polls.append(request.url))
    time.sleep(3)
    assert polls == []  # polling stopped at the final state
    assert "tasks done" in page.inner_text("#job-log")
    assert page.console_errors == []


def test_a_finished_one_table_rebalance_reads_as_it_ended(
    live_server, admin, cluster_row, unbalanced, job_worker, browser_page
):
    """Its counter is final (it stayed at "1 / 2" with a stale in-flight line), its table is named as
    PostgreSQL writes it, the job list tells it from a Citus job, and its audit entry opens on the change."""
    page = browser_page
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/c/{cluster_row.pk}/rebalance/")
    page.check("input[name=scope][value=table]")
    page.select_option("#id_relation", "jobs_t")
    page.select_option("#id_strategy", "by_shard_count")
    page.fill("#id_max_shard_moves", "2")
    page.select_option("#id_transfer_mode", "block_writes")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#plan")
    page.click("button:has-text('Start the rebalance')")
    page.wait_for_url("**/jobs/*/")
    deadline = time.monotonic() + 180
    while (
        page.get_attribute("#job-progress", "data-state") not in ("succeeded", "failed") and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert page.get_attribute("#job-progress", "data-state") == "succeeded", job_worker.logs()
    page.reload()
    assert page.inner_text("#job-count").startswith("2 / 2")
    assert page.get_attribute("#job-bar", "value") == page.get_attribute("#job-bar", "max") == "2"
    assert "In flight" not in page.inner_text("#job-progress")
    assert "2 shard move(s) done." in page.inner_text("#job-summary")
    assert "jobs_t" in page.inner_text("h1") and '"' not in page.inner_text("h1")
    page.click("text=Audit entries of this job")
    page.locator("tr", has_text="jobs.rebalance_table.statement").locator("a").first.click()
    changes = page.inner_text("#sql-changes")
    assert changes.startswith("SELECT rebalance_table_shards(") or "rebalance_table_shards(" in changes.splitlines()[0]
    assert page.locator("#sql-reads").count() == 0 or not page.locator("#sql-reads pre").is_visible()
    assert page.console_errors == []
