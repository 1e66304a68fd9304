from django.urls import path

from jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("<id:job_id>/", views.job_detail, name="detail"),
    path("<id:job_id>/progress/", views.job_progress, name="progress"),
    path("<id:job_id>/cancel/", views.job_cancel, name="cancel"),
]
