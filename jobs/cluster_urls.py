from django.urls import path

from jobs import views

app_name = "cluster_jobs"
urlpatterns = [
    path("<int:cluster_id>/rebalance/", views.rebalance_page, name="rebalance"),
    path("<int:cluster_id>/nodes/<int:nodeid>/drain/", views.drain_node, name="drain"),
]
