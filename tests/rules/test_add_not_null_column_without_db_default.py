import django
import pytest
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM205",)


def test_docs_example_default_is_dropped_by_django():
    result = run(
        initial(), [migrations.AddField("customer", "points", models.IntegerField(default=0))], select=SELECT
    )
    assert result.codes() == ["SM205"]
    assert any("DROP DEFAULT" in s for s in result.sql())
    fix = result.last[0].fix
    if django.VERSION >= (5, 0):
        assert "db_default=0" in fix.code
    else:
        assert "SeparateDatabaseAndState" in fix.code and "DEFAULT 0 NOT NULL" in fix.code
    fixed = run(initial(), *fix_migrations(fix.code), select=SELECT)
    assert "SM205" not in fixed.codes(all_migrations=True)


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default arrived in Django 5.0")
def test_use_instead_db_default_passes():
    result = run(
        initial(),
        [migrations.AddField("customer", "points", models.IntegerField(db_default=0))],
        select=SELECT,
    )
    assert result.codes() == []


def test_nullable_column_passes():
    result = run(
        initial(), [migrations.AddField("customer", "points", models.IntegerField(null=True))], select=SELECT
    )
    assert result.codes() == []


def test_runsql_not_null_without_default_is_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" ADD COLUMN "level" integer NOT NULL', migrations.RunSQL.noop
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM205"]
    assert "fails on a table that has rows" in result.last[0].message


def test_runsql_not_null_with_kept_default_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" ADD COLUMN "level" integer DEFAULT 1 NOT NULL',
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_callable_default_gets_the_callable_default_recipe():
    result = run(
        initial(),
        [migrations.AddField("customer", "joined", models.DateTimeField(default=django.utils.timezone.now))],
        select=SELECT,
    )
    assert result.codes() == ["SM205"]
    code = result.last[0].fix.code
    if django.VERSION >= (5, 0):  # the database computes the time itself
        assert "db_default=models.functions.Now()" in code
    else:
        assert "null=True" in code


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default is new in Django 5.0")
def test_alter_field_dropping_db_default_of_a_not_null_column_is_flagged():
    add = [migrations.AddField("customer", "rank", models.IntegerField(db_default=10))]
    drop = [migrations.AlterField("customer", "rank", models.IntegerField())]
    result = run(initial(), add, drop, select=("SM205",))
    assert result.codes() == ["SM205"]
    nullable = [migrations.AlterField("customer", "rank", models.IntegerField(null=True))]
    # null=True: old INSERTs store NULL instead of failing (column-default-change reports that)
    assert run(initial(), add, nullable, select=("SM205",)).codes() == []
    kept = [migrations.AlterField("customer", "rank", models.IntegerField(db_default=10, default=10))]
    assert run(initial(), add, kept, select=("SM205",)).codes() == []


def test_new_column_made_not_null_in_the_same_migration_is_flagged():
    ops = [
        migrations.AddField("customer", "rank", models.IntegerField(null=True)),
        migrations.AlterField("customer", "rank", models.IntegerField(default=1)),
    ]
    assert "SM205" in run(initial(), ops, select=SELECT).codes()
    # The same change one release later concerns a column the old code already writes.
    later = run(initial(), [ops[0]], [ops[1]], select=SELECT)
    assert later.codes() == []
