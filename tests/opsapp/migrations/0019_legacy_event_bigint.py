from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0018_adopt_legacy_events"),
    ]

    operations = [
        migrations.AlterField(
            model_name="legacyevent",
            name="id",
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
        migrations.RenameIndex(
            model_name="legacyevent",
            new_name="legacyevent_kind_created_idx",
            old_fields=("kind", "created"),
        ),
    ]
