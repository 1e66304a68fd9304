from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="NodePermissions",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))
            ],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("add_node", "Add a node"),
                    ("remove_node", "Remove a node"),
                    ("activate_node", "Activate a node"),
                    ("disable_node", "Disable a node"),
                    ("update_node", "Move a node to another host or port"),
                    ("set_should_have_shards", "Set a node's should-have-shards"),
                    ("set_coordinator_host", "Set the coordinator's host"),
                ],
            },
        ),
    ]
