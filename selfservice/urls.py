from django.urls import path

from selfservice import views

app_name = "selfservice"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("c/<id:cluster_id>/new/", views.request_new_moved, name="new_moved"),
    path("<id:request_id>/", views.request_detail, name="detail"),
    path("<id:request_id>/recheck/", views.request_recheck, name="recheck"),
    path("<id:request_id>/decide/", views.request_decide, name="decide"),
    path("<id:request_id>/withdraw/", views.request_withdraw, name="withdraw"),
    path("inbox/", views.inbox, name="inbox"),
]
