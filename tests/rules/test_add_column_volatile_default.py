import django
import pytest
from django.db import migrations, models
from django.db.models import functions

from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM111",)
needs_db_default = pytest.mark.skipif(
    django.VERSION < (5, 0), reason="db_default and GeneratedField: Django 5.0+"
)


def sql(text):
    return [migrations.RunSQL(text, migrations.RunSQL.noop)]


@needs_db_default
def test_docs_example_random_uuid_db_default_is_flagged():
    from django.contrib.postgres.functions import RandomUUID

    result = run(
        initial(),
        [migrations.AddField("customer", "uid", models.UUIDField(db_default=RandomUUID()))],
        select=SELECT,
    )
    assert result.codes() == ["SM111"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"
    assert finding.message.startswith(
        "Adding shop_customer.uid with DEFAULT gen_random_uuid() rewrites shop_customer"
    )
    assert "gen_random_uuid() is VOLATILE" in finding.message
    fix = finding.fix
    assert "field=models.UUIDField(null=True)" in fix.code  # nullable, no default first
    assert "AlterField(model_name='customer', name='uid', field=models.UUIDField(db_default=" in fix.code
    assert ".update(uid=django.contrib.postgres.functions.RandomUUID())" in fix.code
    assert "import django.contrib.postgres.functions" in fix.code
    assert "AddConstraintNotValid" in fix.code and "ValidateConstraint" in fix.code  # then NOT NULL (R5)


@needs_db_default
def test_use_instead_nullable_then_db_default_passes():
    from django.contrib.postgres.functions import RandomUUID

    result = run(
        initial(),
        [
            migrations.AddField("customer", "uid", models.UUIDField(null=True)),
            migrations.AlterField("customer", "uid", models.UUIDField(null=True, db_default=RandomUUID())),
        ],
        select=SELECT,
    )
    assert result.codes() == []


@needs_db_default
def test_use_instead_the_fix_migrations_pass():
    from django.contrib.postgres.functions import RandomUUID

    flagged = run(
        initial(),
        [migrations.AddField("customer", "uid", models.UUIDField(db_default=RandomUUID()))],
        select=SELECT,
    )
    steps = fix_migrations(flagged.last[0].fix.code)
    assert len(steps) == 5  # column + default, backfill, CHECK NOT VALID, VALIDATE, SET NOT NULL
    assert run(initial(), *steps, select=SELECT).codes(all_migrations=True) == []


@needs_db_default
def test_stable_now_db_default_passes():
    from django.db.models.functions import Now

    result = run(
        initial(),
        [migrations.AddField("customer", "joined", models.DateTimeField(db_default=Now()))],
        select=SELECT,
    )
    assert "STATEMENT_TIMESTAMP" in result.sql()[0]
    assert result.codes() == []


@needs_db_default
def test_stored_generated_field_is_flagged_and_fix_uses_a_trigger():
    field = models.GeneratedField(
        expression=models.F("age") * 2, output_field=models.IntegerField(), db_persist=True
    )
    result = run(initial(), [migrations.AddField("customer", "age2", field)], select=SELECT)
    assert result.codes() == ["SM111"]
    finding = result.last[0]
    assert finding.message.startswith("Adding stored generated column shop_customer.age2 computes age * 2")
    fix = finding.fix
    assert "field=models.IntegerField(null=True, editable=False)" in fix.code
    assert 'NEW."age2" := new.age * 2' in fix.code
    assert "'age * 2', 'age2'" in fix.code  # the batched backfill computes the same expression
    assert "VIRTUAL" not in " ".join(fix.steps)
    steps = fix_migrations(fix.code)
    assert run(initial(), *steps, select=SELECT).codes(all_migrations=True) == []


def test_pg18_fix_mentions_virtual_generated_columns():
    result = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN age2 integer GENERATED ALWAYS AS (age * 2) STORED"),
        select=SELECT,
        pg_version=18,
    )
    assert result.codes() == ["SM111"]
    assert "VIRTUAL generated column" in " ".join(result.last[0].fix.steps)


def test_virtual_generated_column_passes():
    result = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN age2 integer GENERATED ALWAYS AS (age * 2) VIRTUAL"),
        select=SELECT,
        pg_version=18,
    )
    assert result.codes() == []


@pytest.mark.parametrize(
    "default",
    [
        "clock_timestamp()",
        "(random() * 100)::integer",  # through a cast and parentheses
        "CAST(floor(RANDOM() * 10) AS integer)",  # upper case, nested
        "nextval('shop_customer_id_seq'::regclass)",
        "pg_catalog.timeofday()::date",  # schema-qualified
    ],
)
def test_volatile_defaults_in_runsql_are_flagged(default):
    result = run(
        initial(), sql(f"ALTER TABLE shop_customer ADD COLUMN v integer DEFAULT {default}"), select=SELECT
    )
    assert result.codes() == ["SM111"]
    assert "VOLATILE" in result.last[0].message


@pytest.mark.parametrize(
    "default",
    ["now()", "CURRENT_TIMESTAMP", "statement_timestamp()", "0", "'x'", "lower('ABC')", "NULL"],
)
def test_constant_and_stable_defaults_pass_on_pg11_plus(default):
    result = run(
        initial(), sql(f"ALTER TABLE shop_customer ADD COLUMN v text DEFAULT {default}"), select=SELECT
    )
    assert result.codes() == []


def test_before_pg11_every_non_null_default_rewrites():
    result = run(
        initial(),
        [migrations.AddField("customer", "points", models.IntegerField(default=0))],
        select=SELECT,
        pg_version=10,
    )
    assert result.codes() == ["SM111"]
    finding = result.last[0]
    assert "on PostgreSQL 10 rewrites shop_customer" in finding.message
    assert "field=models.IntegerField(null=True)" in finding.fix.code
    assert ".update(points=0)" in finding.fix.code
    assert (
        run(
            initial(),
            [migrations.AddField("customer", "points", models.IntegerField(default=0))],
            select=SELECT,
            pg_version=11,
        ).codes()
        == []
    )
    nullable = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN v integer DEFAULT NULL"),
        select=SELECT,
        pg_version=10,
    )
    assert nullable.codes() == []


def test_volatility_declared_by_create_function_in_the_migration():
    stable = "CREATE FUNCTION shop_code() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'x' $$"
    volatile = (
        "CREATE FUNCTION shop_code() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$"  # VOLATILE by default
    )
    add = "ALTER TABLE shop_customer ADD COLUMN v text DEFAULT shop_code()"
    assert run(initial(), sql(stable) + sql(add), select=SELECT).codes() == []
    flagged = run(initial(), sql(volatile) + sql(add), select=SELECT)
    assert flagged.codes() == ["SM111"]
    assert "shop_code() is VOLATILE" in flagged.last[0].message


def test_runsql_fix_sets_the_default_after_adding_the_column():
    result = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN seen timestamptz DEFAULT clock_timestamp() NOT NULL"),
        select=SELECT,
    )
    fix = result.last[0].fix
    assert 'ADD COLUMN "seen" timestamptz NULL' in fix.code
    assert 'ALTER COLUMN "seen" SET DEFAULT clock_timestamp()' in fix.code
    assert any("NOT NULL" in step for step in fix.steps)
    assert run(initial(), *fix_migrations(fix.code), select=SELECT).codes(all_migrations=True) == []


def test_serial_and_identity_columns_are_left_to_add_primary_key():
    result = run(initial(), sql("ALTER TABLE shop_customer ADD COLUMN n bigserial"), select=SELECT)
    assert result.codes() == []


def test_new_table_is_exempt():
    create = "CREATE TABLE shop_tmp (id int); ALTER TABLE shop_tmp ADD COLUMN v float8 DEFAULT random()"
    assert run(initial(), sql(create), select=SELECT).codes() == []
    same_migration = Mig(
        [*initial(), migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN v float8 DEFAULT random()")]
    )
    assert run(same_migration, select=SELECT).codes() == []


@pytest.mark.skipif(not hasattr(functions, "UUID7"), reason="UUID4/UUID7 functions: recent Django only")
def test_django_uuid4_and_uuid7_on_pg18_are_flagged():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "u4", models.UUIDField(db_default=functions.UUID4())),
            migrations.AddField("customer", "u7", models.UUIDField(db_default=functions.UUID7())),
        ],
        select=SELECT,
        pg_version=18,
    )
    assert result.codes() == ["SM111", "SM111"]
    assert "uuidv4() is VOLATILE" in result.last[0].message
    assert "uuidv7() is VOLATILE" in result.last[1].message
