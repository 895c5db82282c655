"""RunPython functions the data rules' tests share (the rules read their source)."""

import time

from django.db import transaction


def fill_points(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(points__isnull=True).update(points=0)


def fill_points_batched(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    db = schema_editor.connection.alias
    last = 0
    while True:
        with transaction.atomic(using=db):  # one short transaction per batch
            ids = list(
                Customer.objects.using(db)
                .filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:5000]
            )
            if not ids:
                break
            Customer.objects.using(db).filter(pk__in=ids, points__isnull=True).update(points=0)
        last = ids[-1]
        time.sleep(0.05)
