"""/api/v1/ driven with a real HTTP client through tokens: read, write (a rebalance started and
followed, idempotent retries), refusals as problem details, expired and revoked tokens, the schema."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts import actions
from accounts.models import ApiToken
from audit.models import AuditEntry


def _call(url: str, token: str | None, method: str = "GET", body: Any = None, **headers: str) -> tuple[int, Any, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in headers.items():
        request.add_header(key.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


@pytest.fixture
def api(live_server):
    return f"{live_server.url}/api/v1"


def test_a_read_token_reads_and_cannot_write(api, viewer, cluster_row):
    _, token = actions.do_create_token(viewer, "dashboards", "read", 30)
    status, clusters, _ = _call(f"{api}/clusters", token)
    assert status == 200 and [c["name"] for c in clusters] == [cluster_row.name]
    status, body, headers = _call(f"{api}/clusters/{cluster_row.pk}/rebalance", token, "POST", {})
    assert status == 403 and headers["Content-Type"] == "application/problem+json"
    assert "may only read" in body["title"] and body["status"] == 403


def test_a_write_token_starts_a_rebalance_once_and_follows_it(api, operator, cluster_row):
    _, token = actions.do_create_token(operator, "ci", "write", 30)
    url = f"{api}/clusters/{cluster_row.pk}/rebalance"
    first = _call(url, token, "POST", {"transfer_mode": "block_writes"}, Idempotency_Key="deploy-42")
    again = _call(url, token, "POST", {"transfer_mode": "block_writes"}, Idempotency_Key="deploy-42")
    assert first[0] == 202 and again[0] == 202
    assert again[1]["id"] == first[1]["id"] and again[2].get("Idempotent-Replayed") == "true"
    other = _call(url, token, "POST", {"transfer_mode": "force_logical"}, Idempotency_Key="deploy-42")
    assert other[0] == 422  # the same key for another call is refused
    status, job, _ = _call(f"{api}/jobs/{first[1]['id']}", token)
    assert status == 200 and job["kind"] == "rebalance" and job["state"] in ("queued", "running", "succeeded", "failed")
    entry = AuditEntry.objects.filter(action="jobs.rebalance.start").latest("pk")
    assert entry.source == "api" and entry.parameters["api_token"].startswith("ci (")
    # without the key a second start is refused while the first is active (one rebalance at a time)
    status, body, _ = _call(url, token, "POST", {})
    if job["state"] in ("queued", "running"):
        assert status == 409 and body["job"] == first[1]["id"]


def test_permission_denied_is_a_problem_and_audited(api, viewer, cluster_row):
    _, token = actions.do_create_token(viewer, "oops", "write", 30)
    status, body, _ = _call(f"{api}/clusters/{cluster_row.pk}/rebalance", token, "POST", {})
    assert status == 403 and "jobs.start_rebalance" in body["detail"]
    assert AuditEntry.objects.filter(outcome="denied", source="api").exists()


def test_expired_revoked_and_wrong_tokens_are_refused(api, admin, cluster_row):
    row, token = actions.do_create_token(admin, "old", "read", 30)
    assert _call(f"{api}/clusters", token)[0] == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    status, _, headers = _call(f"{api}/clusters", token)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    row2, token2 = actions.do_create_token(admin, "new", "read", 30)
    actions.do_revoke_token(admin, row2)
    assert _call(f"{api}/clusters", token2)[0] == 401
    assert _call(f"{api}/clusters", token2[:-2] + "xx")[0] == 401
    assert _call(f"{api}/clusters", None)[0] == 401


def test_the_schema_is_served_and_names_the_routes(api):
    status, schema, _ = _call(f"{api}/openapi.json", None)
    assert status == 200 and schema["openapi"].startswith("3.")
    assert {"/api/v1/clusters", "/api/v1/jobs/{job_id}", "/api/v1/clusters/{cluster_id}/rebalance"} <= set(
        schema["paths"]
    )


def test_tokens_page_shows_a_token_once_and_revokes_it(client, operator, admin):
    client.force_login(operator)
    page = client.post("/users/me/tokens/", {"name": "laptop", "scope": "read", "days": "7"}).content.decode()
    assert 'id="token-value"' in page and "cat_" in page
    row = ApiToken.objects.get(user=operator, name="laptop")
    assert "cat_" not in client.get("/users/me/tokens/").content.decode()  # never shown again
    client.force_login(admin)  # an Admin revokes it from the Users page's link
    assert client.post(f"/users/{operator.pk}/tokens/", {"revoke": row.pk}).status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None and row.revoked_by == admin.username
