from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM211",)


def purge(apps, schema_editor):  # pragma: no cover - never executed offline
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                'DELETE FROM "shop_order" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "shop_order" LIMIT 5000))'
            )
            if cursor.rowcount == 0:
                break


def test_docs_example_truncate_cascade_is_flagged():
    result = run(initial(), [migrations.RunSQL('TRUNCATE "shop_order" CASCADE')], select=SELECT)
    assert result.codes() == ["SM211"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_order"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "deletes every row at once" in finding.message
    assert "CASCADE also empties every table that references it" in finding.message
    code = finding.fix.code
    assert "atomic = False" in code
    assert (
        'DELETE FROM "shop_order" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "shop_order" LIMIT 5000))' in code
    )
    assert "migrations.RunPython(purge, migrations.RunPython.noop)" in code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_batched_delete_passes():
    result = run(
        initial(), Mig([migrations.RunPython(purge, migrations.RunPython.noop)], atomic=False), select=SELECT
    )
    assert result.codes() == []


def test_truncate_without_cascade_does_not_mention_it():
    result = run(
        initial(),
        [migrations.RunSQL('TRUNCATE TABLE "shop_customer", "shop_order" RESTART IDENTITY')],
        select=SELECT,
    )
    assert result.codes() == ["SM211"]
    finding = result.last[0]
    assert "CASCADE" not in finding.message
    assert "TRUNCATE shop_customer, shop_order" in finding.message
    assert finding.fix.code.count("while True") == 2  # one batched loop per table
    compile(result.last[0].fix.code, "fix", "exec")


def test_truncate_of_a_table_created_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel("Staging", [("id", models.BigAutoField(primary_key=True))]),
            migrations.RunSQL('TRUNCATE "shop_staging"'),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_only_the_existing_tables_are_named():
    result = run(
        initial(),
        [
            migrations.CreateModel("Staging", [("id", models.BigAutoField(primary_key=True))]),
            migrations.RunSQL('TRUNCATE "shop_staging", "shop_order"'),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM211"]
    assert "shop_staging" not in result.last[0].message
