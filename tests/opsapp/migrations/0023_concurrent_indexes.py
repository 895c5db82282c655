import django.contrib.postgres.indexes
from django.contrib.postgres.operations import (
    AddConstraintNotValid,
    AddIndexConcurrently,
    RemoveIndexConcurrently,
    ValidateConstraint,
)
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("opsapp", "0022_rename_and_remove_indexes"),
    ]

    operations = [
        RemoveIndexConcurrently(
            model_name="person",
            name="person_score_btree",
        ),
        AddIndexConcurrently(
            model_name="invoiceline",
            index=models.Index(fields=["description"], name="invoiceline_desc_idx"),
        ),
        AddIndexConcurrently(
            model_name="person",
            index=django.contrib.postgres.indexes.HashIndex(
                fields=["email"], name="person_email_hash_cc"
            ),
        ),
        AddConstraintNotValid(
            model_name="invoiceline",
            constraint=models.CheckConstraint(
                condition=models.Q(("quantity__lte", 10000)), name="invoiceline_quantity_cap"
            ),
        ),
        ValidateConstraint(model_name="invoiceline", name="invoiceline_quantity_cap"),
    ]
