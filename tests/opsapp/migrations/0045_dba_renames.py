"""A DBA gave two Django-named objects friendlier names.

The index rename is plain SQL; the constraint rename is guarded in a DO block
(as scripts that must be re-runnable often are), which only a server can run.
"""

from django.db import migrations

RENAME_FK = """
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conname = 'ops_person_org_id_0df6c313_fk_ops_organization_id'
    ) THEN
        ALTER TABLE ops_person
            RENAME CONSTRAINT ops_person_org_id_0df6c313_fk_ops_organization_id TO person_org_fk;
    END IF;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0044_team_rename_and_relax_code"),
    ]

    operations = [
        migrations.RunSQL(
            'ALTER INDEX "ops_person_org_id_0df6c313" RENAME TO Person_Org_Idx',
            reverse_sql='ALTER INDEX person_org_idx RENAME TO "ops_person_org_id_0df6c313"',
        ),
        migrations.RunSQL(RENAME_FK, reverse_sql=migrations.RunSQL.noop),
    ]
