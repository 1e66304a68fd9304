from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.user_list, name="users"),
    path("<int:user_id>/clusters/", views.user_clusters, name="clusters"),
    path("<int:user_id>/role/", views.user_role, name="role"),
    path("<int:user_id>/active/", views.user_active, name="active"),
]
