from django.urls import path

from selfservice import views

app_name = "cluster_requests"

urlpatterns = [
    path("requests/new/", views.request_new, name="new"),
]
