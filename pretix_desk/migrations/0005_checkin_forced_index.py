"""An index on pretix's forced check-ins by list and creation time.

Every changed sync of a desk lists the forced check-ins that offline uploads recorded on its
list since its last download (the conflicts every desk shows). pretix indexes check-ins by
list only, so that would read every check-in of the list; forced ones are few, and a partial
index holds just them. Created concurrently on PostgreSQL, so that migrating does not block
scanning.
"""
from django.db import migrations

INDEX = "pretix_desk_checkin_forced"


def create_index(apps, schema_editor):
    table = apps.get_model("pretixbase", "Checkin")._meta.db_table
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON {table} (list_id, created) WHERE forced"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("pretix_desk", "0004_order_event_modified_index"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
