"""Adopt a table that a pre-Django-4.1 deployment created with a serial primary key."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0017_widen_primary_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql="""
                        CREATE TABLE IF NOT EXISTS "opsapp_legacyevent" (
                            "id" serial NOT NULL PRIMARY KEY,
                            "kind" varchar(20) NOT NULL,
                            "payload" text NOT NULL,
                            "created" timestamp with time zone NOT NULL
                        );
                        CREATE INDEX IF NOT EXISTS "opsapp_legacyevent_kind_created_5a1e0c3b_idx"
                            ON "opsapp_legacyevent" ("kind", "created");
                    """,
                    reverse_sql='DROP TABLE IF EXISTS "opsapp_legacyevent";',
                ),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="LegacyEvent",
                    fields=[
                        ("id", models.AutoField(primary_key=True, serialize=False)),
                        ("kind", models.CharField(max_length=20)),
                        ("payload", models.TextField()),
                        ("created", models.DateTimeField()),
                    ],
                ),
            ],
        ),
    ]
