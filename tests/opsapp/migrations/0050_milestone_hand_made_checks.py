"""Two CHECK constraints added by hand: one on seq alone, one spanning seq and due_on."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0049_relax_hand_made_constraints"),
    ]

    operations = [
        migrations.RunSQL(
            [
                'ALTER TABLE "opsapp_milestone" ADD CONSTRAINT "Milestone_Seq_Cap" CHECK ("seq" < 1000)',
                'ALTER TABLE "opsapp_milestone" ADD CHECK ("seq" > 0 OR "due_on" IS NULL)',
            ],
            reverse_sql=[
                'ALTER TABLE "opsapp_milestone" DROP CONSTRAINT "Milestone_Seq_Cap"',
                'ALTER TABLE "opsapp_milestone" DROP CONSTRAINT "opsapp_milestone_check"',
            ],
        ),
    ]
