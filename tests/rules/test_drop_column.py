from django.db import migrations

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM201",)


def test_docs_example_remove_field_is_flagged():
    result = run(initial(), [migrations.RemoveField("customer", "fax")], select=SELECT)
    assert result.codes() == ["SM201"]
    finding = result.last[0]
    assert finding.table == "shop_customer"
    assert "SeparateDatabaseAndState" in finding.fix.code
    assert "DROP COLUMN IF EXISTS" in finding.fix.code


def test_not_null_column_fix_makes_it_nullable_first():
    result = run(initial(), [migrations.RemoveField("customer", "name")], select=SELECT)
    assert "null=True" in result.last[0].fix.code


def test_use_instead_two_releases_pass():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
            )
        ],
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" DROP COLUMN IF EXISTS "fax"', migrations.RunSQL.noop
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_runsql_dropping_a_column_the_models_still_use_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" DROP COLUMN "fax"', migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM201"]


def test_runsql_dropping_the_column_its_own_state_operations_remove_is_flagged():
    drop = migrations.RunSQL(
        'ALTER TABLE "shop_customer" DROP COLUMN "fax"',
        migrations.RunSQL.noop,
        state_operations=[migrations.RemoveField("customer", "fax")],
    )
    assert "SM201" in run(initial(), [drop], select=SELECT).codes()


def test_separate_database_and_state_in_one_migration_is_flagged():
    split = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("customer", "fax")],
        database_operations=[migrations.RunSQL('ALTER TABLE "shop_customer" DROP COLUMN "fax"')],
    )
    assert "SM201" in run(initial(), [split], select=SELECT).codes()
