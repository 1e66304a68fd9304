"""Every page of one cluster, in one place, under ``c/<cluster_id>/`` (an integer: the ``id`` converter).

Grouped by namespace (``nodes:list``, ``tables:detail``...). Each view receives ``cluster_id: int`` and
starts with ``clusters.lookup.cluster_for(request, cluster_id)``.
"""

from django.urls import URLPattern, URLResolver, include, path

from citusadmin import converters
from clusters import ha_views as ha
from jobs import views as jobs
from monitoring import views as monitoring
from nodes import views as nodes
from selfservice import views as selfservice
from tables import views as tables

converters.register()  # once, before any route uses them (this module is imported first)


def section(prefix: str, namespace: str, *routes: URLPattern | URLResolver) -> URLResolver:
    """``routes`` under ``prefix``, named ``namespace:<name>``."""
    return path(prefix, include((list(routes), namespace)))


urlpatterns = [
    # overview, nodes, refresh, cleanup
    section(
        "",
        "nodes",
        path("", nodes.overview, name="overview"),
        path("nodes/", nodes.node_list, name="list"),
        path("nodes/add/", nodes.add_node, name="add"),
        path("nodes/coordinator/", nodes.coordinator_host, name="coordinator"),
        path("nodes/<id:nodeid>/<nodeop:op>/", nodes.node_operation, name="operation"),
        path("refresh/", nodes.refresh_now, name="refresh"),
        path("cleanup/", nodes.cleanup_page, name="cleanup"),
    ),
    # tables, a table, placements, schemas
    section(
        "",
        "tables",
        path("tables/", tables.table_list, name="list"),
        path("tables/<id:relid>/", tables.table_detail, name="detail"),
        path("placements/", tables.placement_map, name="map"),
        path("schemas/", tables.schema_list, name="schemas"),
        path("schemas/change/", tables.schema_change, name="schema_change"),
        path("tables/<id:relid>/distribute/", tables.distribute, name="distribute"),
        path("tables/<id:relid>/<tableop:op>/", tables.table_operation, name="operation"),
    ),
    # high availability (Patroni)
    section(
        "ha/",
        "ha",
        path("", ha.ha_page, name="page"),
        path("<id:group>/switchover/", ha.switchover, name="switchover"),
        path("<id:group>/<slug:op>/", ha.member_operation, name="operation"),
    ),
    # rebalance, drain
    section(
        "",
        "cluster_jobs",
        path("rebalance/", jobs.rebalance_page, name="rebalance"),
        path("rebalance/plan/", jobs.rebalance_plan, name="rebalance_plan"),
        path("nodes/<id:nodeid>/drain/", jobs.drain_node, name="drain"),
    ),
    # health, queries, activity, lock waits, tenants, history
    section(
        "",
        "monitoring",
        path("monitoring/", monitoring.index, name="index"),
        path("monitoring/health/", monitoring.health_page, name="health"),
        path("monitoring/queries/", monitoring.queries, name="queries"),
        path("monitoring/activity/", monitoring.activity, name="activity"),
        path("monitoring/locks/", monitoring.locks, name="locks"),
        path("monitoring/tenants/", monitoring.tenants, name="tenants"),
        path("monitoring/history/", monitoring.history, name="history"),
        path("monitoring/signal/", monitoring.signal, name="signal"),
        path("monitoring/reset/", monitoring.reset, name="reset"),
        path("monitoring/workbench/", monitoring.workbench, name="workbench"),
        path("monitoring/workbench/compare/", monitoring.workbench_compare, name="workbench_compare"),
        path("monitoring/alert-rules/", monitoring.alert_rules, name="alert_rules"),
    ),
    # a new change request
    section(
        "",
        "cluster_requests",
        path("requests/new/", selfservice.request_new, name="new"),
    ),
]
