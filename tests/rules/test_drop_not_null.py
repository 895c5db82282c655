import django
import pytest
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM207",)


def test_docs_example_alter_field_to_nullable_is_reported():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, null=True))],
        select=SELECT,
    )
    assert result.sql() == ['ALTER TABLE "shop_customer" ALTER COLUMN "name" DROP NOT NULL;']
    assert result.codes() == ["SM207"]
    finding = result.last[0]
    assert finding.severity.label == "info"
    assert finding.table == "shop_customer"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "shop_customer.name becomes nullable" in finding.message
    assert "lock_timeout" in finding.fix.code
    assert "migrations.AlterField(model_name='customer', name='name'" in finding.fix.code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default arrived in Django 5.0")
def test_use_instead_keep_not_null_with_db_default_passes():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, db_default=""))],
        select=SELECT,
    )
    assert result.sql() == ['ALTER TABLE "shop_customer" ALTER COLUMN "name" SET DEFAULT \'\';']
    assert result.codes() == []


def test_lock_timeout_does_not_silence_the_information():
    result = run(
        initial(),
        [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.AlterField("customer", "name", models.CharField(max_length=100, null=True)),
        ],
        select=SELECT,
    )
    assert [f.severity.label for f in result.last] == ["info"]


def test_fix_offers_db_default_when_the_field_had_a_constant_default():
    result = run(
        initial(),
        [migrations.AlterField("customer", "code", models.CharField(max_length=10, default="x", null=True))],
        select=SELECT,
    )
    code = result.last[0].fix.code
    if django.VERSION >= (5, 0):
        assert "models.CharField(max_length=10, default='x', db_default='x')" in code
    else:
        assert "db_default" not in code
    compile(result.last[0].fix.code, "fix", "exec")


def test_drop_column_recipe_release_n_passes():
    result = run(
        initial(),
        [
            migrations.AlterField("customer", "name", models.CharField(max_length=100, null=True)),
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "name")], database_operations=[]
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_state_removal_of_another_field_does_not_silence_it():
    result = run(
        initial(),
        [
            migrations.AlterField("customer", "name", models.CharField(max_length=100, null=True)),
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM207"]


def test_runsql_drop_not_null_on_a_model_column_is_reported():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "name" DROP NOT NULL')],
        select=SELECT,
    )
    assert result.codes() == ["SM207"]


def test_runsql_drop_not_null_on_a_column_no_model_reads_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "code")], database_operations=[]
            )
        ],
        [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "code" DROP NOT NULL')],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default arrived in Django 5.0")
def test_column_added_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "points", models.IntegerField(db_default=0)),
            migrations.AlterField("customer", "points", models.IntegerField(null=True, db_default=0)),
        ],
        select=SELECT,
    )
    assert any("DROP NOT NULL" in s for s in result.sql())
    assert result.codes() == []


def test_new_table_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel(
                "Coupon", [("id", models.BigAutoField(primary_key=True)), ("code", models.TextField())]
            ),
            migrations.AlterField("coupon", "code", models.TextField(null=True)),
        ],
        select=SELECT,
    )
    assert result.codes() == []
