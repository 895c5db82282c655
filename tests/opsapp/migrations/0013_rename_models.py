import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0012_alter_db_columns"),
    ]

    operations = [
        migrations.RenameModel(old_name="Team", new_name="Squad"),
        migrations.RenameModel(old_name="Tag", new_name="Label"),
        migrations.RenameModel(old_name="Project", new_name="Initiative"),
        migrations.RenameModel(old_name="Category", new_name="Section"),
        # Altered in the same migration as the rename: sqlmigrate introspects
        # the table under its old name (collected_table_renames).
        migrations.AlterField(
            model_name="section",
            name="name",
            field=models.TextField(),
        ),
        migrations.AlterField(
            model_name="squad",
            name="headcount",
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="squad",
            name="org",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="teams",
                to="opsapp.organization",
            ),
        ),
    ]
