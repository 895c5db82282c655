"""Rename a column and alter it in the same migration.

sqlmigrate does not execute the RENAME COLUMN, so its introspection for the
AlterField looks for constraints on the new column name in a database that
still has the old one (Django tracks collected table renames, not column ones).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0043_adopt_milestone_seq_index"),
    ]

    operations = [
        migrations.RenameField(model_name="team", old_name="code", new_name="team_code"),
        migrations.AlterField(
            model_name="team",
            name="team_code",
            field=models.CharField(max_length=12, db_index=True),
        ),
        migrations.RenameField(model_name="team", old_name="size", new_name="headcount"),
        migrations.AlterField(
            model_name="team",
            name="headcount",
            field=models.SmallIntegerField(default=0),
        ),
    ]
