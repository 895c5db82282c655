import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0026_empty_checkpoint"),
    ]

    operations = [
        # State only: the ORM forgets the column, the database keeps it for now.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="person", name="middle_name"),
            ],
        ),
        # Hand-written DDL for the database, the matching AddField for the state.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'ALTER TABLE "ops_person" ADD COLUMN "nickname_ci" varchar(20) NULL',
                    reverse_sql='ALTER TABLE "ops_person" DROP COLUMN "nickname_ci"',
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name="person",
                    name="nickname_ci",
                    field=models.CharField(blank=True, max_length=20, null=True),
                ),
            ],
        ),
        # A Django operation as the database operation (the FK constraint comes back).
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterField(
                    model_name="profile",
                    name="person",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="profile",
                        to="opsapp.person",
                    ),
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="profile",
                    name="person",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="profile",
                        to="opsapp.person",
                    ),
                ),
            ],
        ),
    ]
