"""README screenshots, taken from the real pages on the real cluster (on request:
``./test -m screenshots tests/browser``). Writes docs/screenshots/*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.models import Job
from monitoring.collector import collect
from tests.helpers import sign_in, wait_for

pytestmark = [pytest.mark.screenshots, pytest.mark.browser]
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def measured(cluster_row, unbalanced, worker_heartbeat):
    collect(cluster_row)
    return cluster_row


def test_readme_screenshots(live_server, admin, measured, citus, job_worker, browser_page):
    cluster = measured
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    OUT.mkdir(parents=True, exist_ok=True)
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/c/{cluster.pk}/")
    page.screenshot(path=str(OUT / "overview.png"), full_page=True)
    with citus.connect() as conn:
        relid = conn.execute("SELECT 'jobs_t'::regclass::oid::bigint").fetchone()[0]
    page.goto(f"{live_server.url}/c/{cluster.pk}/tables/{relid}/")
    page.screenshot(path=str(OUT / "table.png"), full_page=True)
    page.goto(f"{live_server.url}/c/{cluster.pk}/monitoring/health/")
    page.wait_for_selector("#overall")
    page.screenshot(path=str(OUT / "health.png"), full_page=True)
    page.goto(f"{live_server.url}/c/{cluster.pk}/rebalance/")
    page.check("input[name=scope][value=cluster]")
    page.select_option("select[name=transfer_mode]", "force_logical")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Start the rebalance").click()
    page.wait_for_url(f"{live_server.url}/jobs/**")
    wait_for(lambda: "shard moves" in page.content() or "tasks" in page.inner_text("#job-progress"), 60)
    page.wait_for_timeout(2500)
    page.screenshot(path=str(OUT / "rebalance.png"), full_page=True)
    job = Job.objects.order_by("-id").first()
    wait_for(lambda: Job.objects.get(pk=job.pk).state in Job.FINAL_STATES, 180, message=job_worker.logs())
