"""Every page of one cluster, mounted once at ``c/<cluster_id>/`` (an integer: the ``id`` converter).

Each app lists its cluster pages relative to that prefix, under its own namespace; a view receives
``cluster_id: int`` and starts with ``clusters.lookup.cluster_for(request, cluster_id)``.
"""

from django.urls import include, path

urlpatterns = [
    path("", include("nodes.urls")),  # overview, nodes, refresh, cleanup
    path("", include("tables.urls")),  # tables, a table, placements, schemas
    path("", include("jobs.cluster_urls")),  # rebalance, drain
    path("", include("monitoring.urls")),  # health, queries, activity, lock waits, tenants, history
    path("", include("selfservice.cluster_urls")),  # a new change request
]
