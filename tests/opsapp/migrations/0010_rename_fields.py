from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0009_alter_foreign_keys"),
    ]

    operations = [
        migrations.RenameField(model_name="person", old_name="region", new_name="area"),
        migrations.RenameField(model_name="team", old_name="code", new_name="team_code"),
        migrations.RenameField(model_name="person", old_name="team", new_name="squad"),
        migrations.RenameField(model_name="person", old_name="age", new_name="age_years"),
        migrations.RenameField(model_name="team", old_name="name", new_name="title"),
        migrations.RenameField(model_name="person", old_name="tags", new_name="labels"),
        migrations.RenameField(model_name="membership", old_name="role", new_name="title"),
    ]
