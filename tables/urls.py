from django.urls import path

from tables import views

app_name = "tables"
urlpatterns = [
    path("tables/", views.table_list, name="list"),
    path("tables/<id:relid>/", views.table_detail, name="detail"),
    path("placements/", views.placement_map, name="map"),
    path("schemas/", views.schema_list, name="schemas"),
    path("schemas/change/", views.schema_change, name="schema_change"),
    path("tables/<id:relid>/distribute/", views.distribute, name="distribute"),
    path("tables/<id:relid>/<tableop:op>/", views.table_operation, name="operation"),
]
