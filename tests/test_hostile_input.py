"""No input gives a 500: every URL in the URL configuration, as every role, with generated values for
every parameter the view reads.

Which parameters a view reads is observed, not listed by hand: each URL is requested once with an
instrumented ``QueryDict`` that records the keys looked up (forms read their fields the same way).
Hypothesis then generates values for those keys (always mixing in the values that broke pages
before: ``²``, 20-digit numbers, NUL, a foreign ``next``). The test client re-raises any exception
a view lets escape, so a 500 fails the test with its traceback.

GETs run against the real cluster (they never change it); POSTs against a registered cluster that
refuses connections, so no generated form can change a real cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusters.models import Cluster
from tests.test_urls_security import _concrete, _routes

NASTY = [
    "²",
    "٣",
    "99999999999999999999",
    "-1",
    "0",
    "1",
    "",
    " ",
    "\x00",
    "a\x00b",
    "1:public.x",
    "²:public.x",
    "public.x",
    "javascript:alert(1)",
    "https://evil.example/phish",
    "//evil.example",
    "yes",
    "1e999",
    "NaN",
    "'; DROP TABLE x; --",
    "<script>alert(1)</script>",
    "%",
    "_",
    "9" * 400,
    "2026-02-30",
    "2026-11-30T25:61",
]
# keys every view might read without our instrumented lookup seeing them on the first request
ALWAYS = ["next", "before", "after", "confirm"]
value = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers(-(10**25), 10**25).map(str))


@contextmanager
def recording_keys() -> Iterator[set[str]]:
    seen: set[str] = set()
    original_get, original_getitem, original_getlist = QueryDict.get, QueryDict.__getitem__, QueryDict.getlist

    def get(self: QueryDict, key: str, default: Any = None) -> Any:
        seen.add(key)
        return original_get(self, key, default)

    def getitem(self: QueryDict, key: str) -> Any:
        seen.add(key)
        return original_getitem(self, key)

    def getlist(self: QueryDict, key: str, default: Any = None) -> Any:
        seen.add(key)
        return original_getlist(self, key, default)

    QueryDict.get, QueryDict.__getitem__, QueryDict.getlist = get, getitem, getlist  # type: ignore[method-assign,assignment]
    try:
        yield seen
    finally:
        QueryDict.get, QueryDict.__getitem__, QueryDict.getlist = original_get, original_getitem, original_getlist  # type: ignore[method-assign]


def _keys(client: Any, method: str, url: str) -> list[str]:
    with recording_keys() as seen:  # a dummy value binds forms built with ``request.POST or None``
        getattr(client, method)(url, {"_probe": "1"})
    ignored = {"csrfmiddlewaretoken", "HTTP_HX_REQUEST", "_probe"}
    return sorted((seen | set(ALWAYS)) - ignored)


def _probe(client: Any, method: str, url: str, name: str, keys: list[str], examples: int) -> Any:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        data=st.one_of(
            st.fixed_dictionaries({k: value for k in keys}),
            st.fixed_dictionaries({}, optional={k: value for k in keys}),
        ),
        htmx=st.booleans(),
    )
    def probe(data: dict[str, str], htmx: bool) -> None:
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = getattr(client, method)(url, data, **headers)
        assert response.status_code < 500, f"{method.upper()} {url} {data!r} ({name}) -> {response.status_code}"

    return probe


def _walk(client: Any, method: str, ids: dict[str, int], examples: int) -> int:
    routes = [(n, r) for n, r in _routes() if n not in {"logout", "login"}]
    checked = 0
    for name, route in routes:
        url = _concrete(route, ids)
        keys = _keys(client, method, url)

        _probe(client, method, url, name, keys, examples)()
        checked += 1
    return checked


ROLES = ["admin", "operator", "viewer", "auditor", "requester"]


@pytest.fixture
def walk_table(citus: Any) -> Iterator[int]:
    """A small distributed table to walk the table pages with; dropped afterwards (it would otherwise
    hold shards on nodes that later tests add and remove)."""
    with citus.connect() as conn:
        conn.execute("CREATE TABLE walk_t (id bigint PRIMARY KEY, v text)")
        conn.execute("SELECT create_distributed_table('walk_t', 'id', shard_count => 4)")
        relid = conn.execute("SELECT 'walk_t'::regclass::oid::int").fetchone()[0]
    yield relid
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS walk_t")


def _ids(cluster: Cluster, request: Any) -> dict[str, int]:
    """Objects that exist, so detail pages are reached, not only their 404s."""
    from audit.actions import record
    from jobs.models import Job

    other = request.getfixturevalue("second_admin")
    job = Job.objects.create(cluster=cluster, kind="rebalance", state=Job.State.SUCCEEDED, actor_name="x")
    entry = record(None, "clusters.update", "succeeded", cluster=cluster)
    relid = request.getfixturevalue("walk_table") if cluster.port != 1 else 1
    return {
        "cluster_id": cluster.pk,
        "user_id": other.pk,
        "nodeid": 1,
        "relid": relid,
        "job_id": job.pk,
        "entry_id": entry.pk,
    }


@pytest.mark.parametrize("role", ROLES)
def test_no_get_with_generated_parameters_gives_a_500(client, request, role, cluster_row):
    user = request.getfixturevalue(role)
    if role == "requester":
        from accounts.actions import do_set_clusters

        do_set_clusters(request.getfixturevalue("admin"), user, [cluster_row])
    client.force_login(user)
    ids = _ids(cluster_row, request)
    assert _walk(client, "get", ids, examples=6) > 40


@pytest.mark.parametrize("role", ROLES)
def test_no_post_with_generated_form_values_gives_a_500(client, request, role, db):
    user = request.getfixturevalue(role)
    refused = Cluster.objects.create(name="refused", host="127.0.0.1", port=1)
    client.force_login(user)
    ids = _ids(refused, request)
    assert _walk(client, "post", ids, examples=6) > 40


def test_the_reported_inputs_answer_without_an_error(client, admin, cluster_row):
    """The inputs from the report, each once, with what the user should see."""
    client.force_login(admin)
    c = cluster_row.pk
    for url in [
        "/requests/inbox/?before=²",
        "/audit/?before=²",
        "/audit/?job=²",
        "/jobs/?before=²",
        "/jobs/?cluster=²",
        "/jobs/?cluster=99999999999999999999",
        "/requests/?before=²",
        f"/c/{c}/tables/1/?after=²",
        f"/c/{c}/tables/?sort=shards&after=²:public.x",
        f"/c/{c}/placements/?after=²",
        f"/c/{c}/monitoring/history/?hours=²",
        "/audit/?actor=a%00b",
        "/c/99999999999999999999/",
    ]:
        response = client.get(url)
        assert response.status_code in (200, 404, 400), f"{url} -> {response.status_code}"
    response = client.post(f"/c/{c}/monitoring/signal/", {"global_pid": "²", "action": "cancel"}, follow=True)
    assert "No session chosen" in response.content.decode()
    response = client.post(f"/c/{c}/rebalance/", {"scope": "table", "excluded_shards": "²"})
    assert response.status_code == 200 and "Give shard ids as numbers" in response.content.decode()
