from django.urls import path

from nodes import views

app_name = "nodes"
urlpatterns = [
    path("<int:cluster_id>/", views.overview, name="overview"),
]
