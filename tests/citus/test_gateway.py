"""The gateway against a real Citus cluster: sessions, capabilities, topology and error mapping."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from psycopg import sql

from citusadmin.citus import errors
from citusadmin.citus.capabilities import detect, get_capabilities
from citusadmin.citus.connection import ClusterTarget, direct_session, session
from citusadmin.citus.nodes import list_nodes
from citusadmin.citus.probe import check_connection
from citusadmin.citus.sandbox import free_port


def test_it_sets_the_session_guards(citus):
    with session(citus.target()) as sess:
        row = sess.conn.execute(
            "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
            " current_setting('lock_timeout'), current_setting('citus.node_connection_timeout'),"
            " current_setting('client_connection_check_interval')"
        ).fetchone()
    assert row == ("citusadmin/web", "10s", "2s", "2s", "1s")


def test_it_reuses_pooled_connections_across_sessions(citus):
    target = citus.target("reuse")
    with session(target) as first:
        pid = first.backend_pid
    with session(target) as second:
        assert second.backend_pid == pid


def test_it_detects_capabilities(citus):
    with session(citus.target()) as sess:
        caps = detect(sess)
    assert caps.citus_installed and caps.is_coordinator is True
    assert caps.citus_version and caps.citus_version[0].isdigit()
    assert caps.extversion and "-" in caps.extversion
    # functions that exist on every supported version, and one the contract names that never existed
    assert caps.has_function("citus_add_node") and caps.has_function("rebalance_table_shards")
    assert not caps.has_function("citus_rebalance_table_shards")
    assert not caps.has_relation("citus_shard_placements")
    assert caps.background_rebalance == caps.has_function("citus_rebalance_start")
    assert caps.setting("citus.shard_count") is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        caps.extversion = "x"  # type: ignore[misc]


def test_it_caches_capabilities(citus, coordinator_queries):
    target = citus.target("cache")
    get_capabilities(target, refresh=True)
    before = coordinator_queries.count
    get_capabilities(target)
    assert coordinator_queries.count == before


def test_it_lists_the_topology_in_one_statement(citus, coordinator_queries):
    with session(citus.target()) as sess:
        before = coordinator_queries.count
        nodes = list_nodes(sess)
        assert coordinator_queries.count - before == 1
    assert sum(1 for n in nodes if n.is_coordinator) <= 1
    assert len([n for n in nodes if not n.is_coordinator]) == 2
    assert all(n.isactive for n in nodes)


def test_it_reports_a_connection_check(citus):
    report = check_connection(citus.target())
    assert len(report.workers) == 2
    assert report.capabilities.citus_version


@pytest.mark.parametrize(
    ("statement", "error_class", "sqlstate"),
    [
        ("SELECT * FROM citus_shard_placements", errors.NotFound, "42P01"),
        ("SELECT citus_rebalance_table_shards('x')", errors.NotFound, "42883"),
        ("SELECT citus_add_node(node_name => 'h', node_port => 5432)", errors.NotFound, "42883"),
        ("CREATE EXTENSION citus", errors.AlreadyExists, "42710"),
        ("SELECT citus_remove_node('127.0.0.1', 1)", errors.CitusInternal, "XX000"),
        ("SELECT citus_set_node_property('127.0.0.1', 1, 'nope', true)", errors.CitusInternal, "XX000"),
    ],
)
def test_it_maps_errors_to_typed_errors(citus, statement, error_class, sqlstate):
    with session(citus.target()) as sess, pytest.raises(error_class) as caught:
        sess.execute(statement)
    assert caught.value.sqlstate == sqlstate
    assert caught.value.primary  # Citus's own message, verbatim


def test_it_keeps_citus_detail_and_hint_for_unsupported_constraints(citus):
    name = f"bad_pk_{uuid.uuid4().hex[:8]}"
    with session(citus.target()) as sess:
        sess.execute(sql.SQL("CREATE TABLE {} (id int, tenant int, PRIMARY KEY (id))").format(sql.Identifier(name)))
        try:
            with pytest.raises(errors.NotSupported) as caught:
                sess.execute("SELECT create_distributed_table(%s, 'tenant')", (name,))
        finally:
            sess.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    assert caught.value.sqlstate == "0A000"
    assert "partition column" in caught.value.detail


def test_it_maps_a_unique_violation_on_a_shard(citus):
    name = f"uniq_{uuid.uuid4().hex[:8]}"
    with session(citus.target()) as sess:
        sess.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY)").format(sql.Identifier(name)))
        try:
            sess.execute("SELECT create_distributed_table(%s, 'id')", (name,))
            sess.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(name)))
            with pytest.raises(errors.UniqueViolation) as caught:
                sess.execute(sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(name)))
        finally:
            sess.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    assert caught.value.sqlstate == "23505"
    assert name in caught.value.primary  # the shard's constraint name


def test_it_maps_permission_denied_for_a_non_superuser(citus):
    role = f"dash_ro_{uuid.uuid4().hex[:6]}"
    with citus.connect() as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        target = ClusterTarget.from_params("ro", **{**citus.params, "user": role})
        with direct_session(target, application_name="test") as sess, pytest.raises(errors.PermissionDenied) as caught:
            sess.execute("SELECT citus_add_node('127.0.0.1', 1)")
        assert caught.value.sqlstate == "42501"
        assert "citus_add_node" in caught.value.primary
    finally:
        with citus.connect() as admin:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_it_maps_a_statement_timeout(citus):
    target = citus.target()
    with (
        direct_session(target, application_name="test", statement_timeout_ms=200) as sess,
        pytest.raises(errors.QueryTimeout) as caught,
    ):
        sess.execute("SELECT pg_sleep(2)")
    assert caught.value.sqlstate == "57014"


def test_it_reports_a_refused_coordinator(citus):
    target = ClusterTarget.from_params(
        "refused", host="127.0.0.1", port=free_port(), dbname="postgres", user="postgres"
    )
    with pytest.raises(errors.ConnectionRefused) as caught, session(target) as sess:
        sess.execute("SELECT 1")
    assert "refused" in caught.value.user_message.lower()
    with pytest.raises(errors.ConnectionRefused):
        check_connection(target)


def test_it_reports_an_unknown_role_as_authentication_failure(citus):
    target = ClusterTarget.from_params("norole", **{**citus.params, "user": "no_such_role_x"})
    with pytest.raises(errors.AuthenticationFailed) as caught:
        check_connection(target)
    assert "no_such_role_x" in caught.value.primary


def test_it_reports_an_unresolvable_host(citus):
    target = ClusterTarget.from_params("nohost", host="no-such-host.invalid", port=5432, dbname="postgres")
    with pytest.raises(errors.HostNotFound):
        check_connection(target)


def test_it_names_the_unreachable_worker_when_one_is_stopped(controllable):
    name = f"down_{uuid.uuid4().hex[:8]}"
    target = controllable.target("down")
    with session(target) as sess:
        sess.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(name)))
        sess.execute("SELECT create_distributed_table(%s, 'id', shard_count => 4)", (name,))
    try:
        with controllable.worker_stopped(0) as node, session(target) as sess:
            # The catalog read still answers: the page can show the topology.
            assert len(list_nodes(sess)) == 3
            with pytest.raises(errors.WorkerUnreachable) as caught:
                sess.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
        assert caught.value.sqlstate == "08006"
        assert str(node.port) in caught.value.primary
    finally:
        with session(target) as sess:
            sess.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


def test_it_recovers_after_the_coordinator_restarts(controllable):
    target = controllable.target("restart")
    with session(target) as sess:
        sess.execute("SELECT 1")
    sandbox = controllable.sandbox
    sandbox.stop_node(sandbox.coordinator)
    try:
        with pytest.raises(errors.ConnectionFailed), session(target) as sess:
            sess.execute("SELECT 1")
    finally:
        sandbox.start_node(sandbox.coordinator)
        sandbox.wait_ready(sandbox.coordinator)
    with session(target) as sess:  # the pool replaced its dead connection
        assert sess.scalar("SELECT 1") == 1


def test_a_background_task_is_described_by_table_shard_and_node_names(citus):
    from citusadmin.citus import rebalance
    from citusadmin.citus.connection import ClusterTarget, direct_session

    with citus.connect() as conn:
        conn.execute("CREATE TABLE gw_named (id bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('gw_named', 'id', shard_count => 2)")
        shard, nodeid, port = conn.execute(
            "SELECT s.shardid, n.nodeid, n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) "
            "JOIN pg_dist_node n USING (groupid) WHERE s.logicalrelid = 'gw_named'::regclass LIMIT 1"
        ).fetchone()
        other_id, other_port = conn.execute(
            "SELECT nodeid, nodeport FROM pg_dist_node WHERE nodeid <> %s AND groupid <> 0 LIMIT 1", (nodeid,)
        ).fetchone()
    try:
        target = ClusterTarget.from_params("t", **citus.params)
        with direct_session(target, application_name="test", statement_timeout_ms=5000) as sess:
            text = rebalance.describe_command(
                sess, f"SELECT pg_catalog.citus_move_shard_placement({shard},{nodeid},{other_id},'auto')"
            )
            assert text == f"move shard {shard} of gw_named from 127.0.0.1:{port} to 127.0.0.1:{other_port}"
            assert "reference tables" in rebalance.describe_command(
                sess, "SELECT pg_catalog.replicate_reference_tables('auto')"
            )
    finally:
        with citus.connect() as conn:
            conn.execute("DROP TABLE gw_named")


def test_statements_are_recorded_as_sent_with_values_inlined(citus):
    from citusadmin.citus.connection import ClusterTarget, capture_sql, direct_session

    target = ClusterTarget.from_params("t", **citus.params)
    with (
        capture_sql() as sent,
        direct_session(target, application_name="test", statement_timeout_ms=5000) as sess,
        sess.statement_timeout(120_000),
    ):
        sess.scalar("SELECT %s::text || %s", ("it's", 1))
    assert "SELECT set_config('statement_timeout', '120000ms', false)" in sent
    assert "SELECT 'it''s'::text || 1" in sent
    assert not [s for s in sent if "-- params" in s]
