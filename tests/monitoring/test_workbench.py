"""The query workbench: each plan shape against the real cluster, the advice for it, and the refusals.

The check (what may be explained or run) is tested without a cluster; the readings run EXPLAIN on
real Citus tables built for each shape.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import AuditEntry
from citusadmin.citus import explain

# --- what may run (PostgreSQL's own parser, no cluster) -------------------------------------------


@pytest.mark.parametrize(
    ("text", "analyze", "words"),
    [
        ("SELECT 1; SELECT 2", False, "One statement at a time"),
        ("DROP TABLE orders", False, "Only SELECT, INSERT, UPDATE and DELETE"),
        ("EXPLAIN SELECT 1", False, "without EXPLAIN"),
        ("DELETE FROM orders", True, "only a SELECT may run here"),
        ("WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone", True, "WITH clause gone changes data"),
        ("SELECT * INTO copy FROM orders", True, "SELECT INTO creates a table"),
        ("SELECT * FROM orders FOR UPDATE", True, "FOR UPDATE"),
        ("", False, "Paste a query"),
    ],
)
def test_refusals_say_why(text, analyze, words):
    with pytest.raises(explain.Rejected, match=re.escape(words)):
        explain.check(text, analyze=analyze)


def test_plain_explain_of_a_change_is_allowed_it_does_not_run():
    checked = explain.check("UPDATE orders SET total = 0 WHERE customer_id = 1;", analyze=False)
    assert checked.kind == "update" and checked.tables == ["orders"] and checked.text.endswith("= 1")


def test_a_syntax_error_is_marked_where_postgresql_marks_it():
    with pytest.raises(explain.Rejected) as caught:
        explain.check("SELECT * FROM orders WHERE customer_id = = 1", analyze=False)
    assert "Syntax error" in caught.value.user_message and caught.value.position == 41


# --- the real cluster ----------------------------------------------------------------------------


@pytest.fixture
def shop(citus, cluster_row):
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS wb_orders, wb_customers, wb_regions, wb_events, wb_copy, wb_other CASCADE")
        conn.execute("CREATE TABLE wb_orders (id bigint, customer_id bigint, total int, PRIMARY KEY (customer_id, id))")
        conn.execute("SELECT create_distributed_table('wb_orders', 'customer_id', shard_count => 8)")
        conn.execute("CREATE TABLE wb_customers (id bigint PRIMARY KEY, name text, region_id int)")
        conn.execute("SELECT create_distributed_table('wb_customers', 'id', colocate_with => 'wb_orders')")
        conn.execute("CREATE TABLE wb_regions (id int PRIMARY KEY, name text)")
        conn.execute("SELECT create_reference_table('wb_regions')")
        conn.execute("CREATE TABLE wb_events (id bigint PRIMARY KEY, order_id bigint, kind text)")
        conn.execute("SELECT create_distributed_table('wb_events', 'id', shard_count => 4, colocate_with => 'none')")
        conn.execute("CREATE TABLE wb_copy (id bigint, customer_id bigint, total int)")
        conn.execute("SELECT create_distributed_table('wb_copy', 'customer_id', colocate_with => 'wb_orders')")
        conn.execute("CREATE TABLE wb_other (id bigint, customer_id bigint, total int)")
        conn.execute("SELECT create_distributed_table('wb_other', 'id', colocate_with => 'wb_events')")
        conn.execute("INSERT INTO wb_orders SELECT g, g % 50, g FROM generate_series(1, 2000) g")
        conn.execute("INSERT INTO wb_customers SELECT g, 'c' || g, g % 3 FROM generate_series(0, 49) g")
        conn.execute("ANALYZE wb_orders, wb_customers, wb_events")
    yield cluster_row
    with citus.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS wb_orders, wb_customers, wb_regions, wb_events, wb_copy, wb_other CASCADE")


def _explain(client, cluster, query: str, analyze: bool = False) -> str:
    response = client.post(
        f"/c/{cluster.pk}/monitoring/workbench/", {"query": query, "analyze": "1" if analyze else "0"}
    )
    assert response.status_code == 200
    return response.content.decode()


def _shape(page: str) -> str:
    found = re.search(r'data-shape="([a-z_]+)"', page)
    assert found, page[page.find("<main") : page.find("<main") + 1500]
    return found.group(1)


SHAPES = [
    ("router", "SELECT * FROM wb_orders WHERE customer_id = 5", "one shard", None),
    ("multi_shard", "SELECT count(*) FROM wb_orders", "8 shards in parallel", "Add wb_orders.customer_id = ..."),
    (
        "multi_shard",
        "SELECT c.name, sum(o.total) FROM wb_customers c JOIN wb_orders o ON o.customer_id = c.id GROUP BY c.name",
        "co-located, joined shard by shard",
        "its co-located tables follow",
    ),
    (
        "multi_shard",
        "SELECT r.name, count(*) FROM wb_customers c JOIN wb_regions r ON r.id = c.region_id GROUP BY r.name",
        "joined with a reference table",
        None,
    ),
    (
        "repartition",
        "SELECT count(*) FROM wb_orders o JOIN wb_events e ON e.order_id = o.id",
        "reshuffles rows between the nodes",
        "make it a reference table",
    ),
    ("insert_select_pushdown", "INSERT INTO wb_copy SELECT * FROM wb_orders", "copies its rows on its own node", None),
    (
        "insert_select_coordinator",
        "INSERT INTO wb_other SELECT id, customer_id, total FROM wb_orders ORDER BY total LIMIT 10",
        "collects every row on the coordinator",
        "Rows travel through the coordinator",
    ),
    (
        "recursive",
        "WITH top AS (SELECT customer_id, sum(total) s FROM wb_orders GROUP BY customer_id ORDER BY 2 DESC LIMIT 5) "
        "SELECT * FROM wb_customers c JOIN top ON top.customer_id = c.id",
        "Recursive planning: 1 subquery",
        None,
    ),
]


@pytest.mark.parametrize(
    ("shape", "query", "words", "advice"), SHAPES, ids=[s[0] + str(i) for i, s in enumerate(SHAPES)]
)
def test_each_plan_shape_is_read_and_advised(client, viewer, shop, shape, query, words, advice):
    client.force_login(viewer)
    page = _explain(client, shop, query)
    assert _shape(page) == shape
    assert words in page
    if advice:
        assert advice in page
    if shape == "router":
        assert "Nothing to change" in page and re.search(r"<code>127\.0\.0\.1:\d+</code>", page)
    entry = AuditEntry.objects.filter(action="monitoring.explain").latest("pk")
    assert (
        entry.outcome == "succeeded" and entry.target == query[:300] and "EXPLAIN (VERBOSE, FORMAT JSON)" in entry.sql
    )


def test_a_repartition_join_says_when_the_cluster_would_refuse_it(client, viewer, shop):
    client.force_login(viewer)
    page = _explain(client, shop, "SELECT count(*) FROM wb_orders o JOIN wb_events e ON e.order_id = o.id")
    assert "citus.enable_repartition_joins off" in page  # the cluster's default; the plan was made with it on


def test_explain_analyze_runs_a_select_rolled_back_with_time_per_node(client, operator, shop):
    client.force_login(operator)
    page = _explain(client, shop, "SELECT count(*) FROM wb_orders", analyze=True)
    assert _shape(page) == "multi_shard" and 'id="workbench-nodes"' in page
    assert page.count("<tr><td><code>127.0.0.1:") >= 2  # both workers, with their tasks and time
    assert "ran in" in page and "(rolled back)" in page
    entry = AuditEntry.objects.filter(action="monitoring.explain_analyze").latest("pk")
    assert entry.outcome == "succeeded" and "EXPLAIN (ANALYZE" in entry.sql


def test_explain_analyze_refuses_a_change_hidden_in_a_function(client, operator, shop, citus):
    with citus.connect() as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION wb_wipe() RETURNS int LANGUAGE sql AS 'DELETE FROM wb_customers RETURNING 1'"
        )
    try:
        client.force_login(operator)
        page = _explain(client, shop, "SELECT wb_wipe()", analyze=True)
        assert "calls wb_wipe, which PostgreSQL marks volatile" in page
        with citus.connect() as conn:
            assert conn.execute("SELECT count(*) FROM wb_customers").fetchone()[0] == 50
        entry = AuditEntry.objects.filter(action="monitoring.explain_analyze").latest("pk")
        assert entry.outcome == "failed" and "volatile" in entry.error
    finally:
        with citus.connect() as conn:
            conn.execute("DROP FUNCTION IF EXISTS wb_wipe()")


def test_a_viewer_may_not_analyze_and_the_refusal_is_audited(client, viewer, shop):
    client.force_login(viewer)
    response = client.post(
        f"/c/{shop.pk}/monitoring/workbench/", {"query": "SELECT count(*) FROM wb_orders", "analyze": "1"}
    )
    assert response.status_code == 403
    assert AuditEntry.objects.filter(outcome="denied", action="monitoring.explain_analyze").exists()


def test_an_unknown_column_shows_postgresqls_error_marked_in_the_text(client, viewer, shop):
    client.force_login(viewer)
    page = _explain(client, shop, "SELECT nope FROM wb_orders")
    assert "column &quot;nope&quot; does not exist" in page
    mark = page.split('id="error-mark"')[1].split("</pre>")[0]
    line, caret = mark.split(">", 1)[1].split("\n")[:2]
    assert line.index("nope") == caret.index("^")


def test_a_requester_gets_a_prefilled_request_instead_of_the_admin_action(client, requester, shop):
    from clusters.models import ClusterAccess

    ClusterAccess.objects.get_or_create(user=requester, cluster=shop)
    client.force_login(requester)
    page = _explain(client, shop, "SELECT count(*) FROM wb_orders o JOIN wb_events e ON e.order_id = o.id")
    assert "Request it…" in page and "kind=reference" in page and "/operation/" not in page.split("workbench-advice")[1]


def test_saved_plans_compare_side_by_side_and_stay_private(client, viewer, operator, shop):
    client.force_login(viewer)
    url = f"/c/{shop.pk}/monitoring/workbench/"
    before = "SELECT count(*) FROM wb_orders"
    after = "SELECT count(*) FROM wb_orders WHERE customer_id = 7"
    client.post(url, {"query": before, "analyze": "0", "save": "1", "name": "before"})
    page = client.post(url, {"query": after, "analyze": "0", "save": "1", "name": "after"}).content.decode()
    assert "Saved as “after”" in page and 'id="saved-plans"' in page
    assert "<" not in page.split("<title>")[1].split("</title>")[0]  # the title is text only
    from monitoring.models import SavedExplain

    first, second = SavedExplain.objects.filter(user=viewer).order_by("pk")
    compare = client.get(f"{url}compare/?a={first.pk}&b={second.pk}").content.decode()
    assert compare.count('class="card compare-side"') == 2
    assert 'data-shape="multi_shard"' in compare and 'data-shape="router"' in compare
    assert compare.index("Before: before") < compare.index("After: after")
    client.force_login(operator)  # someone else's saved plans are not theirs to open
    response = client.get(f"{url}compare/?a={first.pk}&b={second.pk}")
    assert response.status_code == 302
    assert "saved-plans" not in client.get(url).content.decode()


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), analyze=st.booleans())
def test_any_text_is_checked_or_refused_with_a_reason_never_an_error(text, analyze):
    try:
        checked = explain.check(text, analyze=analyze)
    except explain.Rejected as exc:
        assert exc.user_message
    else:
        assert checked.kind in ("select", "insert", "update", "delete")
        assert not analyze or checked.kind == "select"
