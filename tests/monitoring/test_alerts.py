"""Alerts against the real thing: a real Citus worker stopped and started, a real HTTP receiver for
the webhooks (signature checked), retries, no duplicates with two evaluators, acknowledgement."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from audit.models import AuditEntry
from monitoring import alerts
from monitoring.collector import collect
from monitoring.models import Alert, AlertDelivery, AlertOverride

SECRET = "alert-secret"


class Receiver:
    """A webhook receiver on a free port; answers ``fail_first`` requests with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[str, dict, str]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append((self.path, json.loads(payload), self.headers["X-Citusadmin-Signature"]))
                outer.raw.append(payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.raw: list[bytes] = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    found = Receiver()
    settings.ALERT_WEBHOOKS = [("json", f"{found.url}/json"), ("slack", f"{found.url}/slack")]
    settings.ALERT_WEBHOOK_SECRET = SECRET
    settings.NOTIFY_BY_EMAIL = False
    yield found
    found.close()


@pytest.fixture
def worker_alive(db):
    from jobs import heartbeat

    heartbeat.beat("worker@alerts", "worker", "celery")


def test_a_stopped_worker_fires_once_notifies_signed_and_resolves_when_back(
    cluster_row, controllable, receiver, worker_alive
):
    now = timezone.now()
    with controllable.worker_stopped(0) as node:
        collect(cluster_row)
        assert alerts.evaluate(now)["pending"] >= 1  # seen, not yet for the rule's two minutes
        assert not Alert.objects.filter(state="firing").exists()
        later = now + timedelta(minutes=3)
        assert alerts.evaluate(later)["fired"] >= 1
        alerts.evaluate(later + timedelta(seconds=30))  # a second pass raises nothing twice
        alerts.deliver(later)
    alert = Alert.objects.get(rule="node_unreachable", state="firing")
    assert alert.subject == f"127.0.0.1:{node.port}"
    by_path = {path: body for path, body, _ in receiver.received}
    assert by_path["/json"]["event"] == "firing" and by_path["/json"]["subject"] == alert.subject
    assert "[FIRING]" in by_path["/slack"]["text"] and cluster_row.name in by_path["/slack"]["text"]
    for (_, _, sig), raw in zip(receiver.received, receiver.raw, strict=True):
        assert sig == "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert len(receiver.received) == 2  # one per channel, though two passes saw it firing
    # the worker answers again
    collect(cluster_row)
    assert alerts.evaluate(later + timedelta(minutes=1))["resolved"] >= 1
    alerts.deliver(later + timedelta(minutes=1))
    alert.refresh_from_db()
    assert alert.state == "resolved" and alert.resolved_at is not None
    events = [body.get("event") or body["text"].split("]")[0].strip("[").lower() for _, body, _ in receiver.received]
    assert sorted(events) == ["firing", "firing", "resolved", "resolved"]


def test_two_evaluators_and_deliverers_at_once_raise_and_send_once(transactional_db, cluster_row, receiver, settings):
    # no worker heartbeat at all: the console-level no_worker rule (one minute)
    start = timezone.now()
    alerts.evaluate(start)
    later = start + timedelta(minutes=2)

    def run() -> None:
        try:
            alerts.evaluate(later)
            alerts.deliver(later)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Alert.objects.filter(rule="no_worker").count() == 1
    assert AlertDelivery.objects.filter(alert__rule="no_worker").count() == 2  # one per channel
    assert len([r for r in receiver.received if "No Celery worker" in json.dumps(r[1])]) == 2


def test_a_failing_receiver_is_retried_with_backoff(db, cluster_row, settings, worker_alive):
    flaky = Receiver(fail_first=2)
    settings.ALERT_WEBHOOKS = [("json", flaky.url)]
    settings.ALERT_WEBHOOK_SECRET = SECRET
    settings.NOTIFY_BY_EMAIL = False
    try:
        from jobs.models import Job

        job = Job.objects.create(
            cluster=cluster_row, kind="vacuum", state="failed", actor_name="x", error="boom", finished_at=timezone.now()
        )
        now = timezone.now()
        alerts.evaluate(now)  # a failed job fires at once
        assert alerts.deliver(now) == {"sent": 0, "failed": 1}
        delivery = AlertDelivery.objects.get(alert__subject=f"job {job.pk}")
        assert delivery.attempts == 1 and delivery.next_attempt_at > now and "500" in delivery.last_error
        assert alerts.deliver(now) == {"sent": 0, "failed": 0}  # not due yet
        alerts.deliver(now + timedelta(minutes=1))
        alerts.deliver(now + timedelta(minutes=5))
        delivery.refresh_from_db()
        assert delivery.sent_at is not None and delivery.attempts == 3 and len(flaky.received) == 1
    finally:
        flaky.close()


def test_acknowledge_with_a_comment_is_audited_and_a_viewer_cannot(client, operator, viewer, cluster_row, settings, db):
    settings.ALERT_WEBHOOKS, settings.NOTIFY_BY_EMAIL = [], False
    start = timezone.now()
    alerts.evaluate(start)
    alerts.evaluate(start + timedelta(minutes=2))  # no worker heartbeat: no_worker fires
    alert = Alert.objects.get(rule="no_worker", state="firing")
    client.force_login(viewer)
    page = client.get("/alerts/").content.decode()
    assert "No Celery worker" in page and "Acknowledge</button>" not in page
    assert client.post(f"/alerts/{alert.pk}/acknowledge/", {"comment": "x"}).status_code == 403
    client.force_login(operator)
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"comment": "restarting the worker"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == "acknowledged" and alert.acknowledged_by == operator.username
    entry = AuditEntry.objects.get(action="monitoring.acknowledge_alert", outcome="succeeded")
    assert entry.parameters["comment"] == "restarting the worker"
    assert "restarting the worker" in client.get("/alerts/").content.decode()


def test_a_cluster_can_switch_a_rule_off(cluster_row, controllable, settings, worker_alive):
    settings.ALERT_WEBHOOKS, settings.NOTIFY_BY_EMAIL = [], False
    AlertOverride.objects.create(cluster=cluster_row, rule="node_unreachable", enabled=False)
    with controllable.worker_stopped(0):
        collect(cluster_row)
        now = timezone.now()
        alerts.evaluate(now)
        alerts.evaluate(now + timedelta(minutes=5))
    assert not Alert.objects.filter(rule="node_unreachable").exists()


def test_an_admin_changes_a_rule_per_cluster_and_the_engine_uses_it(client, admin, viewer, cluster_row):
    from audit.models import AuditEntry
    from monitoring import alerts
    from monitoring.models import AlertOverride

    url = f"/c/{cluster_row.pk}/monitoring/alert-rules/"
    client.force_login(viewer)
    page = client.get(url).content.decode()
    assert "Data skew between workers" in page and "Save</button>" not in page  # Viewers read, cannot change
    assert client.post(url, {"rule": "skew", "enabled": "on", "threshold": "5"}).status_code == 403
    client.force_login(admin)
    assert client.post(url, {"rule": "skew", "enabled": "on", "for_minutes": "60", "threshold": "5"}).status_code == 302
    assert client.post(url, {"rule": "job_failed", "for_minutes": "0"}).status_code == 302  # switched off
    overrides = {(o.cluster_id, o.rule): o for o in AlertOverride.objects.all()}
    assert alerts._setting(overrides, cluster_row, alerts.RULES["skew"]).threshold == 5
    assert alerts._setting(overrides, cluster_row, alerts.RULES["job_failed"]) is None
    entry = AuditEntry.objects.filter(action="monitoring.set_alert_rule", target="skew").latest("pk")
    assert entry.actor_name == admin.username and entry.parameters["threshold"] == 5
    page = client.get(url).content.decode()
    assert "this cluster&#x27;s own" in page or "this cluster's own" in page
    # a threshold on a rule that has none is refused; the defaults again remove the override
    client.post(url, {"rule": "node_unreachable", "enabled": "on", "threshold": "3"})
    assert not AlertOverride.objects.filter(rule="node_unreachable").exists()
    client.post(url, {"rule": "skew", "enabled": "on", "for_minutes": "60", "threshold": "20"})
    assert not AlertOverride.objects.filter(rule="skew").exists()
