from django.urls import path

from selfservice import views

app_name = "selfservice"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("c/<int:cluster_id>/new/", views.request_new, name="new"),
    path("<int:request_id>/", views.request_detail, name="detail"),
    path("<int:request_id>/recheck/", views.request_recheck, name="recheck"),
    path("<int:request_id>/decide/", views.request_decide, name="decide"),
    path("<int:request_id>/withdraw/", views.request_withdraw, name="withdraw"),
    path("inbox/", views.inbox, name="inbox"),
]
