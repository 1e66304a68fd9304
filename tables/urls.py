from django.urls import path

from tables import views

app_name = "tables"
urlpatterns = [
    path("<id:cluster_id>/tables/", views.table_list, name="list"),
    path("<id:cluster_id>/tables/<id:relid>/", views.table_detail, name="detail"),
    path("<id:cluster_id>/placements/", views.placement_map, name="map"),
    path("<id:cluster_id>/schemas/", views.schema_list, name="schemas"),
    path("<id:cluster_id>/schemas/change/", views.schema_change, name="schema_change"),
    path("<id:cluster_id>/tables/<id:relid>/distribute/", views.distribute, name="distribute"),
    path("<id:cluster_id>/tables/<id:relid>/<tableop:op>/", views.table_operation, name="operation"),
]
