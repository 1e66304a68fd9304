from django.urls import path, re_path

from nodes import views

app_name = "nodes"
urlpatterns = [
    path("<int:cluster_id>/", views.overview, name="overview"),
    path("<int:cluster_id>/nodes/", views.node_list, name="list"),
    path("<int:cluster_id>/nodes/add/", views.add_node, name="add"),
    path("<int:cluster_id>/nodes/coordinator/", views.coordinator_host, name="coordinator"),
    re_path(
        r"^(?P<cluster_id>[0-9]+)/nodes/(?P<nodeid>[0-9]+)/(?P<op>activate|disable|should-have-shards|update|remove)/$",
        views.node_operation,
        name="operation",
    ),
    path("<int:cluster_id>/refresh/", views.refresh_now, name="refresh"),
]
