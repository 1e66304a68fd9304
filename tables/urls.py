from django.urls import path, re_path

from tables import views

app_name = "tables"
urlpatterns = [
    path("<int:cluster_id>/tables/", views.table_list, name="list"),
    path("<int:cluster_id>/tables/<int:relid>/", views.table_detail, name="detail"),
    path("<int:cluster_id>/placements/", views.placement_map, name="map"),
    path("<int:cluster_id>/schemas/", views.schema_list, name="schemas"),
    path("<int:cluster_id>/schemas/change/", views.schema_change, name="schema_change"),
    path("<int:cluster_id>/tables/<int:relid>/distribute/", views.distribute, name="distribute"),
    re_path(
        r"^(?P<cluster_id>[0-9]+)/tables/(?P<relid>[0-9]+)/"
        r"(?P<op>reference|undistribute|add-to-metadata|alter|vacuum|vacuum-analyze|analyze|grant)/$",
        views.table_operation,
        name="operation",
    ),
]
