from django.urls import path, re_path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.entry_list, name="list"),
    path("<id:entry_id>/", views.entry_detail, name="detail"),
    re_path(r"^export\.(?P<fmt>csv|json)$", views.export, name="export"),
    path("verify/", views.verify_chain, name="verify"),
]
