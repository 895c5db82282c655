"""Zero-downtime unique: build the index concurrently, then attach it as a constraint.

PostgreSQL renames the index to the constraint name on ADD CONSTRAINT ... USING INDEX.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("opsapp", "0046_person_org_unindexed"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "team_label_uniq_idx" '
                    'ON "opsapp_team" ("label")',
                    reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "team_label_uniq_idx"',
                ),
                migrations.RunSQL(
                    'ALTER TABLE "opsapp_team" ADD CONSTRAINT "team_label_uniq" '
                    'UNIQUE USING INDEX "team_label_uniq_idx"',
                    reverse_sql='ALTER TABLE "opsapp_team" DROP CONSTRAINT "team_label_uniq"',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="team",
                    name="label",
                    field=models.CharField(max_length=60, unique=True),
                ),
            ],
        ),
    ]
