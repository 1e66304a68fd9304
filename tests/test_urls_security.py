"""Walks the whole URL configuration, so every page added later is covered without anyone remembering.

Every view requires login; every view that accepts POST refuses a Viewer with 403 and leaves an
audit entry marked denied.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import AuditEntry
from clusters.models import Cluster

PUBLIC = {"login", "healthz", "metrics"}  # /metrics: a bearer token or an allowed address instead (test_metrics)
# Views a Viewer may POST to by design.
# Viewers may ask for changes (self-service), check their request again, withdraw it, and mark
# their notifications read; deciding stays with Admins (tested below and in tests/selfservice).
VIEWER_MAY_POST = {
    "login",
    "logout",
    "cluster_requests:new",
    "selfservice:recheck",
    "selfservice:withdraw",
    "selfservice:inbox",
    "accounts:my_tokens",  # everyone makes and revokes their own API tokens (test_api)
    "monitoring:workbench",  # EXPLAIN plans only; EXPLAIN ANALYZE is the Operator's (test_workbench)
}


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield namespace + (entry.name or ""), prefix + str(entry.pattern)


def _concrete(route: str, ids: dict[str, int]) -> str:
    """A URL for ``route``: ids from ``ids``, operations (regex alternatives or converters) their first."""
    ops = {"nodeop": "update", "tableop": "alter"}

    def repl(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        return ops[converter] if converter in ops else str(ids.get(name, 1))

    path = re.sub(r"\(\?P<(\w+)>([^)]*)\)", lambda m: str(ids.get(m.group(1), m.group(2).split("|")[0])), route)
    path = re.sub(r"<(?:(\w+):)?(\w+)>", repl, path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\.", ".")


@pytest.fixture
def ids(db, admin):
    cluster = Cluster.objects.create(name="walk", host="127.0.0.1", port=1)
    return {"cluster_id": cluster.pk, "user_id": admin.pk, "nodeid": 1, "relid": 1}


def _routes():
    return [(name, route) for name, route in _walk(get_resolver().url_patterns) if not route.startswith("static")]


def test_it_finds_the_views():
    names = {name for name, _ in _routes()}
    assert {"clusters:add", "clusters:test", "nodes:overview", "audit:list"} <= names


def test_it_requires_login_everywhere(client, ids):
    for name, route in _routes():
        if name in PUBLIC or name.startswith("api:"):
            continue
        url = _concrete(route, ids)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url} ({name}) answered {response.status_code}"
            assert response["Location"].startswith("/login/"), f"{url} did not redirect to login"


def test_it_refuses_viewer_posts_and_audits_them(client, viewer, ids):
    client.force_login(viewer)
    checked = 0
    for name, route in _routes():
        if name in VIEWER_MAY_POST or name in PUBLIC or name.startswith("api:"):
            continue
        url = _concrete(route, ids)
        before = AuditEntry.objects.filter(outcome="denied").count()
        response = client.post(url)
        if response.status_code == 405:
            continue  # GET-only view
        checked += 1
        assert response.status_code == 403, f"POST {url} ({name}) as Viewer answered {response.status_code}"
        assert AuditEntry.objects.filter(outcome="denied").count() == before + 1, f"no denied entry for {url}"
        entry = AuditEntry.objects.order_by("-id").first()
        assert entry.actor_name == viewer.username and entry.outcome == "denied"
    assert checked >= 6


def test_every_api_route_wants_a_token_even_from_a_signed_in_user(client, viewer, ids):
    """The API authenticates with tokens only (a session cookie is not enough: no CSRF exposure);
    its schema and docs are public and hold no data."""
    client.force_login(viewer)
    checked = 0
    for name, route in _routes():
        if not name.startswith("api:") or name in ("api:openapi-json", "api:openapi-view", "api:api-root"):
            continue
        url = _concrete(route, ids)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            if response.status_code == 405:
                continue
            checked += 1
            assert response.status_code == 401, f"{method.upper()} {url} ({name}) answered {response.status_code}"
            assert response["Content-Type"] == "application/problem+json"
    assert checked >= 5


def test_it_answers_health_without_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_an_htmx_request_after_logout_redirects_the_whole_page(client, db):
    response = client.post("/clusters/1/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/login/")


def test_unknown_pages_get_a_friendly_404(client, viewer):
    client.force_login(viewer)
    response = client.get("/clusters/999999/")
    assert response.status_code == 404
    assert b"Not found" in response.content and b"Traceback" not in response.content
