from django.db import migrations
from django.db.models import Q


def backfill_person_status(apps, schema_editor):
    Person = apps.get_model("opsapp", "Person")
    Person.objects.filter(Q(status="") | Q(status__isnull=True)).update(status="pending")


def seed_labels(apps, schema_editor):
    Label = apps.get_model("opsapp", "Label")
    for name in ("urgent", "backlog", "50% done"):
        Label.objects.get_or_create(label=name)


def forget_labels(apps, schema_editor):
    Label = apps.get_model("opsapp", "Label")
    Label.objects.filter(label__in=["urgent", "backlog", "50% done"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0024_runsql_maintenance_log"),
    ]

    operations = [
        migrations.RunPython(backfill_person_status, reverse_code=migrations.RunPython.noop),
        migrations.RunPython(seed_labels),
        migrations.RunPython(seed_labels, forget_labels, elidable=True),
    ]
