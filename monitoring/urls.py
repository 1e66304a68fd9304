from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("<id:cluster_id>/monitoring/", views.index, name="index"),
    path("<id:cluster_id>/monitoring/health/", views.health_page, name="health"),
    path("<id:cluster_id>/monitoring/queries/", views.queries, name="queries"),
    path("<id:cluster_id>/monitoring/activity/", views.activity, name="activity"),
    path("<id:cluster_id>/monitoring/locks/", views.locks, name="locks"),
    path("<id:cluster_id>/monitoring/tenants/", views.tenants, name="tenants"),
    path("<id:cluster_id>/monitoring/history/", views.history, name="history"),
    path("<id:cluster_id>/monitoring/signal/", views.signal, name="signal"),
    path("<id:cluster_id>/monitoring/reset/", views.reset, name="reset"),
]
