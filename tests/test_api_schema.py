"""Property-based calls over the served OpenAPI schema (schemathesis + hypothesis): every route, with
generated path, query and body values, as each role, answers without a server error and with the
content type it declares. Reads go to the real cluster; an Admin's generated changes go to a
registered cluster whose coordinator refuses connections (so generated input never removes a real
node), a Viewer's to the real one (refused by permission, after validation)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from accounts import actions
from citusadmin.api import api as ninja_api
from clusters.models import Cluster

schema = schemathesis.openapi.from_dict(ninja_api.get_openapi_schema(path_prefix="/api/v1/"))

EXAMPLES = 12


@pytest.fixture
def role_tokens(admin, viewer, auditor, requester, operator, cluster_row, settings):
    from clusters.models import ClusterAccess

    settings.API_RATE_PER_MINUTE = 1_000_000  # generated calls come faster than any script's
    ClusterAccess.objects.get_or_create(user=requester, cluster=cluster_row)
    closed = Cluster.objects.create(name="refuses-connections", host="127.0.0.1", port=1, dbname="postgres")
    tokens = {
        role: actions.do_create_token(user, f"schemathesis-{role}", "write", 1)[1]
        for role, user in {
            "admin": admin,
            "viewer": viewer,
            "auditor": auditor,
            "requester": requester,
            "operator": operator,
        }.items()
    }
    return tokens, cluster_row.pk, closed.pk


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_generated_call_is_a_server_error(case, live_server, role_tokens):
    tokens, real, closed = role_tokens
    writes = case.method.upper() != "GET"
    for role, token in tokens.items():
        if writes and role not in ("admin", "viewer", "requester"):
            continue
        if "cluster_id" in (case.path_parameters or {}):
            on_real = not writes or role == "viewer"
            case.path_parameters["cluster_id"] = real if on_real else closed
        response = case.call(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
        # 503 is the honest answer of a cluster that refuses connections (a problem naming it); any
        # other 5xx is a bug
        assert response.status_code < 500 or response.status_code == 503, (response.status_code, response.text[:500])
        if response.status_code >= 400:
            content_type = (response.headers.get("content-type") or [""])[0]
            assert content_type.startswith("application/problem+json"), (response.status_code, response.text[:300])
