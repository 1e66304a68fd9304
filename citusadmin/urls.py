"""The site map: every page in two modules, this one and ``citusadmin.cluster_urls`` (the pages of
one cluster, under ``c/<cluster_id>/``). Integer ids use the ``id`` converter (registered there)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from accounts import views as accounts
from audit import views as audit
from citusadmin import views
from citusadmin.api import api, exempt_from_login
from citusadmin.cluster_urls import section
from clusters import views as clusters
from jobs import views as jobs
from monitoring import views as monitoring
from selfservice import views as selfservice

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("c/<id:cluster_id>/", include("citusadmin.cluster_urls")),
    path("api/v1/", exempt_from_login(api.urls)),
    section(
        "clusters/",
        "clusters",
        path("", clusters.cluster_list, name="list"),
        path("add/", clusters.cluster_add, name="add"),
        path("<id:cluster_id>/", clusters.cluster_detail, name="detail"),
        path("<id:cluster_id>/edit/", clusters.cluster_edit, name="edit"),
        path("<id:cluster_id>/delete/", clusters.cluster_delete, name="delete"),
        path("<id:cluster_id>/test/", clusters.cluster_test, name="test"),
        path("<id:cluster_id>/extension/", clusters.cluster_create_extension, name="create_extension"),
    ),
    section(
        "jobs/",
        "jobs",
        path("", jobs.job_list, name="list"),
        path("<id:job_id>/", jobs.job_detail, name="detail"),
        path("<id:job_id>/progress/", jobs.job_progress, name="progress"),
        path("<id:job_id>/cancel/", jobs.job_cancel, name="cancel"),
    ),
    section(
        "alerts/",
        "alerts",
        path("", monitoring.alert_list, name="list"),
        path("<id:alert_id>/acknowledge/", monitoring.alert_acknowledge, name="acknowledge"),
    ),
    section(
        "audit/",
        "audit",
        path("", audit.entry_list, name="list"),
        path("<id:entry_id>/", audit.entry_detail, name="detail"),
        re_path(r"^export\.(?P<fmt>csv|json)$", audit.export, name="export"),
        path("verify/", audit.verify_chain, name="verify"),
    ),
    section(
        "users/",
        "accounts",
        path("", accounts.user_list, name="users"),
        path("me/tokens/", accounts.tokens, name="my_tokens"),
        path("<id:user_id>/tokens/", accounts.tokens, name="tokens"),
        path("<id:user_id>/clusters/", accounts.user_clusters, name="clusters"),
        path("<id:user_id>/role/", accounts.user_role, name="role"),
        path("<id:user_id>/active/", accounts.user_active, name="active"),
    ),
    section(
        "requests/",
        "selfservice",
        path("", selfservice.request_list, name="list"),
        path("c/<id:cluster_id>/new/", selfservice.request_new_moved, name="new_moved"),
        path("<id:request_id>/", selfservice.request_detail, name="detail"),
        path("<id:request_id>/recheck/", selfservice.request_recheck, name="recheck"),
        path("<id:request_id>/decide/", selfservice.request_decide, name="decide"),
        path("<id:request_id>/withdraw/", selfservice.request_withdraw, name="withdraw"),
        path("inbox/", selfservice.inbox, name="inbox"),
    ),
]

handler403 = "citusadmin.errors.permission_denied"
handler404 = "citusadmin.errors.page_not_found"
handler500 = "citusadmin.errors.server_error"
