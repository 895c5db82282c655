from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0042_dba_milestone_seq_index"),
    ]

    operations = [
        migrations.RenameIndex(
            model_name="milestone",
            new_name="milestone_due_seq_idx",
            old_fields=("due_on", "seq"),
        ),
    ]
