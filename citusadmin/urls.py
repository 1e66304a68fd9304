from django.contrib.auth import views as auth_views
from django.urls import include, path

from citusadmin import converters, views

converters.register()

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clusters/", include("clusters.urls")),
    path("c/<id:cluster_id>/", include("citusadmin.cluster_urls")),
    path("jobs/", include("jobs.urls")),
    path("audit/", include("audit.urls")),
    path("users/", include("accounts.urls")),
    path("requests/", include("selfservice.urls")),
]

handler403 = "citusadmin.errors.permission_denied"
handler404 = "citusadmin.errors.page_not_found"
handler500 = "citusadmin.errors.server_error"
