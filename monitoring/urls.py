from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("monitoring/", views.index, name="index"),
    path("monitoring/health/", views.health_page, name="health"),
    path("monitoring/queries/", views.queries, name="queries"),
    path("monitoring/activity/", views.activity, name="activity"),
    path("monitoring/locks/", views.locks, name="locks"),
    path("monitoring/tenants/", views.tenants, name="tenants"),
    path("monitoring/history/", views.history, name="history"),
    path("monitoring/signal/", views.signal, name="signal"),
    path("monitoring/reset/", views.reset, name="reset"),
]
