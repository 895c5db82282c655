"""The vendor table was renamed with hand-written SQL; the state follows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0047_team_label_unique_online"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'ALTER TABLE "opsapp_vendor" RENAME TO "ops_vendor"',
                    reverse_sql='ALTER TABLE "ops_vendor" RENAME TO "opsapp_vendor"',
                ),
            ],
            state_operations=[
                migrations.AlterModelTable(name="vendor", table="ops_vendor"),
            ],
        ),
    ]
