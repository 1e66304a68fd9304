from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.user_list, name="users"),
    path("<id:user_id>/clusters/", views.user_clusters, name="clusters"),
    path("<id:user_id>/role/", views.user_role, name="role"),
    path("<id:user_id>/active/", views.user_active, name="active"),
]
