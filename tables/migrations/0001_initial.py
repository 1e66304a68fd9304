from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="TablePermissions",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))
            ],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("distribute_table", "Distribute a table"),
                    ("make_reference_table", "Make a reference table"),
                    ("undistribute_table", "Undistribute a table"),
                    ("add_table_to_metadata", "Add a local table to Citus metadata"),
                    ("grant_privileges", "Grant or revoke table privileges"),
                    ("distribute_schema", "Distribute or undistribute a schema (schema-based sharding)"),
                ],
            },
        ),
    ]
