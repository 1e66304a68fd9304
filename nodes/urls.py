from django.urls import path

from nodes import views

app_name = "nodes"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("nodes/", views.node_list, name="list"),
    path("nodes/add/", views.add_node, name="add"),
    path("nodes/coordinator/", views.coordinator_host, name="coordinator"),
    path("nodes/<id:nodeid>/<nodeop:op>/", views.node_operation, name="operation"),
    path("refresh/", views.refresh_now, name="refresh"),
    path("cleanup/", views.cleanup_page, name="cleanup"),
]
