"""An unnamed single-column CHECK added by hand.

PostgreSQL names it "<table>_<column>_check", which Django's inline CHECK of the
PositiveBigIntegerField already uses, so this one becomes "..._check1".
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0052_drop_generated_amount_cents"),
    ]

    operations = [
        migrations.RunSQL(
            'ALTER TABLE "opsapp_invoiceline" ADD CHECK ("quantity" <> 13)',
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
