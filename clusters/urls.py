from django.urls import path

from clusters import views

app_name = "clusters"
urlpatterns = [
    path("", views.cluster_list, name="list"),
    path("add/", views.cluster_add, name="add"),
    path("<id:cluster_id>/", views.cluster_detail, name="detail"),
    path("<id:cluster_id>/edit/", views.cluster_edit, name="edit"),
    path("<id:cluster_id>/delete/", views.cluster_delete, name="delete"),
    path("<id:cluster_id>/test/", views.cluster_test, name="test"),
    path("<id:cluster_id>/extension/", views.cluster_create_extension, name="create_extension"),
]
