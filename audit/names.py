"""Every audit action name, declared once.

An entry's action is an ``Action``, a job's event (``job_action(kind, JobEvent.X)``: ``jobs.<kind>.<event>``
for a registered job kind), or, for a refusal, the permission that was missing (a ``Perm``).
``audit.actions.record`` refuses any other name, so a typo fails in the tests, not in the trail.
"""

from __future__ import annotations

from enum import StrEnum

from citusadmin.perms import Perm


class Action(StrEnum):
    # accounts
    LOGIN = "accounts.login"
    LOGOUT = "accounts.logout"
    LOCKOUT = "accounts.lockout"
    CREATE_ADMIN = "accounts.create_admin"
    CREATE_USER = "accounts.create_user"
    SET_ROLE = "accounts.set_role"
    ACTIVATE_USER = "accounts.activate_user"
    DEACTIVATE_USER = "accounts.deactivate_user"
    SET_CLUSTERS = "accounts.set_clusters"
    CREATE_API_TOKEN = "accounts.create_api_token"
    REVOKE_API_TOKEN = "accounts.revoke_api_token"
    # clusters
    REGISTER_CLUSTER = "clusters.register"
    REGISTER_SANDBOX = "clusters.register_sandbox"
    UPDATE_CLUSTER = "clusters.update"
    DELETE_CLUSTER = "clusters.delete"
    TEST_CONNECTION = "clusters.test_connection"
    CREATE_EXTENSION = "clusters.create_extension"
    # nodes
    ADD_NODE = "nodes.add_node"
    ACTIVATE_NODE = "nodes.activate_node"
    DISABLE_NODE = "nodes.disable_node"
    UPDATE_NODE = "nodes.update_node"
    REMOVE_NODE = "nodes.remove_node"
    SET_SHOULD_HAVE_SHARDS = "nodes.set_should_have_shards"
    SET_COORDINATOR_HOST = "nodes.set_coordinator_host"
    RUN_CLEANUP = "nodes.run_cleanup"
    FORGET_CLEANUP_RECORDS = "nodes.forget_cleanup_records"
    # tables
    DISTRIBUTE_TABLE = "tables.distribute_table"
    MAKE_REFERENCE_TABLE = "tables.make_reference_table"
    UNDISTRIBUTE_TABLE = "tables.undistribute_table"
    ADD_TABLE_TO_METADATA = "tables.add_table_to_metadata"
    GRANT_PRIVILEGES = "tables.grant_privileges"
    DISTRIBUTE_SCHEMA = "tables.distribute_schema"
    UNDISTRIBUTE_SCHEMA = "tables.undistribute_schema"
    # monitoring
    COLLECT_NOW = "monitoring.collect_now"
    CANCEL_SESSION = "monitoring.cancel_session"
    TERMINATE_SESSION = "monitoring.terminate_session"
    RESET_QUERY_STATS = "monitoring.reset_query_stats"
    RESET_TENANT_STATS = "monitoring.reset_tenant_stats"
    EXPLAIN = "monitoring.explain"
    EXPLAIN_ANALYZE = "monitoring.explain_analyze"
    ACKNOWLEDGE_ALERT = "monitoring.acknowledge_alert"
    SET_ALERT_RULE = "monitoring.set_alert_rule"
    # Patroni
    PATRONI_RESTART = "clusters.patroni_restart"
    PATRONI_REINITIALIZE = "clusters.patroni_reinitialize"
    PATRONI_PAUSE = "clusters.patroni_pause"
    PATRONI_RESUME = "clusters.patroni_resume"
    PATRONI_LEADER_CHANGED = "clusters.patroni_leader_changed"
    # self-service
    REQUEST_CHANGE = "selfservice.request"
    APPROVE = "selfservice.approve"
    REJECT = "selfservice.reject"
    WITHDRAW = "selfservice.withdraw"


class JobEvent(StrEnum):
    START = "start"
    QUEUE = "queue"
    CANCEL = "cancel"
    CANCEL_SENT = "cancel_sent"
    STATEMENT = "statement"
    END = "end"


def job_action(kind: str, event: JobEvent) -> str:
    return f"jobs.{kind}.{event}"


def known(action: str) -> bool:
    if action in Action.__members__.values() or action in Perm.__members__.values():
        return True
    parts = action.split(".")
    if len(parts) == 3 and parts[0] == "jobs" and parts[2] in JobEvent.__members__.values():
        from jobs.kinds import KINDS

        return parts[1] in KINDS
    return False
