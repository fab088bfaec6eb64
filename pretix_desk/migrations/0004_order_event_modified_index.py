"""An index on pretix's orders by event and modification time.

The desk's unchanged-sync check asks for an event's latest modified order every few
seconds per desk, and an incremental sync for the orders modified since its token.
pretix indexes ``last_modified`` across all events only, so both would read through other
events' recent orders. Created concurrently on PostgreSQL, so that migrating does not
block sales.
"""
from django.db import migrations

INDEX = "pretix_desk_order_event_modified"


def create_index(apps, schema_editor):
    table = apps.get_model("pretixbase", "Order")._meta.db_table
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON {table} (event_id, last_modified)"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("pretix_desk", "0003_deletedsecret"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
