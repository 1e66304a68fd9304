from django.urls import path

from jobs import views

app_name = "cluster_jobs"
urlpatterns = [
    path("<id:cluster_id>/rebalance/", views.rebalance_page, name="rebalance"),
    path("<id:cluster_id>/rebalance/plan/", views.rebalance_plan, name="rebalance_plan"),
    path("<id:cluster_id>/nodes/<id:nodeid>/drain/", views.drain_node, name="drain"),
]
