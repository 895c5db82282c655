"""An index a DBA created by hand (its 70-character name is truncated by PostgreSQL), adopted.

Created and adopted in the same migration: sqlmigrate cannot introspect an index
that only the (not executed) RunSQL creates, so it fails on this migration.
"""

from django.db import migrations

LONG_NAME = "opsapp_milestone_due_on_title_created_by_the_dba_during_incident_4711"


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0040_milestone_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            f'CREATE INDEX IF NOT EXISTS "{LONG_NAME}" ON "opsapp_milestone" ("due_on", "title")',
            reverse_sql=f'DROP INDEX IF EXISTS "{LONG_NAME[:63]}"',
        ),
        migrations.RenameIndex(
            model_name="milestone",
            new_name="milestone_due_title_idx",
            old_fields=("due_on", "title"),
        ),
    ]
