"""An index a DBA created by hand; PostgreSQL truncates its 72-character name to 63."""

from django.db import migrations

LONG_NAME = "opsapp_milestone_due_on_seq_created_by_the_dba_during_incident_4711_b"


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0041_adopt_milestone_due_index"),
    ]

    operations = [
        migrations.RunSQL(
            f'CREATE INDEX IF NOT EXISTS "{LONG_NAME}" ON "opsapp_milestone" ("due_on", "seq")',
            reverse_sql=f'DROP INDEX IF EXISTS "{LONG_NAME[:63]}"',
        ),
    ]
