import django
import pytest
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM208",)

needs_db_default = pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default arrived in Django 5.0")


def with_points() -> list[object]:
    return [*initial(), migrations.AddField("customer", "points", models.IntegerField(db_default=0))]


@needs_db_default
def test_docs_example_changing_db_default_is_flagged():
    result = run(
        with_points(),
        [migrations.AlterField("customer", "points", models.IntegerField(db_default=10))],
        select=SELECT,
    )
    assert result.sql() == ['ALTER TABLE "shop_customer" ALTER COLUMN "points" SET DEFAULT 10;']
    assert result.codes() == ["SM208"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.table == "shop_customer"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "from 0 to 10" in finding.message and "silently get the new value" in finding.message
    code = finding.fix.code
    assert "field=models.IntegerField(db_default=0, default=10))" in code
    assert 'safe_migrations_phase = "post-deploy"' in code
    assert "field=models.IntegerField(db_default=10))" in code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


@needs_db_default
def test_use_instead_explicit_value_then_post_deploy_change_passes():
    result = run(
        with_points(),
        [migrations.AlterField("customer", "points", models.IntegerField(default=10, db_default=0))],
        Mig(
            [migrations.AlterField("customer", "points", models.IntegerField(db_default=10))],
            attrs={"safe_migrations_phase": "post-deploy"},
        ),
        select=SELECT,
    )
    assert result.collected[-2].statements == ()  # release N: no SQL
    assert result.sql() == ['ALTER TABLE "shop_customer" ALTER COLUMN "points" SET DEFAULT 10;']
    assert result.codes(all_migrations=True) == []


@needs_db_default
def test_dropping_db_default_of_a_not_null_column_fails_old_inserts():
    result = run(
        with_points(),
        [migrations.AlterField("customer", "points", models.IntegerField(default=5))],
        select=SELECT,
    )
    assert result.codes() == ["SM208"]
    finding = result.last[0]
    assert "Dropping db_default=0" in finding.message and "not-null violation" in finding.message
    assert "models.IntegerField(default=5, db_default=0)" in finding.fix.code


@needs_db_default
def test_dropping_db_default_of_a_nullable_column_stores_null():
    result = run(
        [*initial(), migrations.AddField("customer", "points", models.IntegerField(null=True, db_default=0))],
        [migrations.AlterField("customer", "points", models.IntegerField(null=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM208"]
    assert "now get NULL" in result.last[0].message


@needs_db_default
def test_first_database_default_is_an_expand_step_and_passes():
    # the add-column-volatile-default recipe: SET DEFAULT on a column without one
    result = run(
        initial(),
        [migrations.AlterField("customer", "age", models.IntegerField(null=True, db_default=18))],
        select=SELECT,
    )
    assert result.sql() == ['ALTER TABLE "shop_customer" ALTER COLUMN "age" SET DEFAULT 18;']
    assert result.codes() == []


def test_django_drop_default_after_its_own_add_column_passes():
    result = run(
        initial(), [migrations.AddField("customer", "points", models.IntegerField(default=0))], select=SELECT
    )
    assert any("DROP DEFAULT" in s for s in result.sql())
    assert result.codes() == []


def test_django_set_not_null_with_default_dance_passes():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20, default="none"))],
        select=SELECT,
    )
    assert any("SET DEFAULT" in s for s in result.sql()) and any("DROP DEFAULT" in s for s in result.sql())
    assert result.codes() == []


def test_python_default_change_emits_no_sql_and_passes():
    result = run(
        initial(),
        [migrations.AlterField("customer", "code", models.CharField(max_length=10, default="y"))],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_runsql_drop_default_on_a_model_column_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "code" DROP DEFAULT')],
        select=SELECT,
    )
    assert result.codes() == ["SM208"]
    assert "get NULL instead" in result.last[0].message
    assert 'safe_migrations_phase = "post-deploy"' in result.last[0].fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_runsql_drop_default_in_a_post_deploy_migration_passes():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "code" DROP DEFAULT')],
            attrs={"safe_migrations_phase": "post-deploy"},
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_set_default_passes():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "age" SET DEFAULT 18')],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_drop_default_on_a_column_no_model_uses_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "code")], database_operations=[]
            )
        ],
        [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "code" DROP DEFAULT')],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_runsql_on_a_column_added_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" ADD COLUMN "level" integer DEFAULT 1; '
                'ALTER TABLE "shop_customer" ALTER COLUMN "level" DROP DEFAULT'
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []
