from django.urls import path

from nodes import views

app_name = "nodes"
urlpatterns = [
    path("<id:cluster_id>/", views.overview, name="overview"),
    path("<id:cluster_id>/nodes/", views.node_list, name="list"),
    path("<id:cluster_id>/nodes/add/", views.add_node, name="add"),
    path("<id:cluster_id>/nodes/coordinator/", views.coordinator_host, name="coordinator"),
    path("<id:cluster_id>/nodes/<id:nodeid>/<nodeop:op>/", views.node_operation, name="operation"),
    path("<id:cluster_id>/refresh/", views.refresh_now, name="refresh"),
    path("<id:cluster_id>/cleanup/", views.cleanup_page, name="cleanup"),
]
