"""Switch Team from its natural key to a surrogate one.

makemigrations writes AddField(id) before AlterField(code), which cannot apply
(a table has one primary key): the operations are swapped by hand.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0037_team_natural_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="team",
            name="code",
            field=models.CharField(max_length=12, unique=True),
        ),
        migrations.AddField(
            model_name="team",
            name="id",
            field=models.BigAutoField(
                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
            ),
        ),
    ]
