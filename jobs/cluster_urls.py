from django.urls import path

from jobs import views

app_name = "cluster_jobs"
urlpatterns = [
    path("rebalance/", views.rebalance_page, name="rebalance"),
    path("rebalance/plan/", views.rebalance_plan, name="rebalance_plan"),
    path("nodes/<id:nodeid>/drain/", views.drain_node, name="drain"),
]
