import django
import pytest
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM104",)


def name_code_unique():
    return models.UniqueConstraint(fields=["name", "code"], name="customer_name_code_uniq")


def test_docs_example_add_unique_constraint_is_flagged():
    result = run(initial(), [migrations.AddConstraint("customer", name_code_unique())], select=SELECT)
    assert result.codes() == ["SM104"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_customer"
    assert "customer_name_code_uniq" in finding.message and "(name, code)" in finding.message
    assert "IntegrityError" in finding.message
    code = finding.fix.code
    assert (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS customer_name_code_uniq ON shop_customer (name, code)"
        in code
    )
    assert (
        "ALTER TABLE shop_customer ADD CONSTRAINT customer_name_code_uniq UNIQUE USING INDEX "
        "customer_name_code_uniq" in code
    )
    assert "SeparateDatabaseAndState" in code and "migrations.AddConstraint(model_name='customer'" in code
    assert code.index("atomic = False") < code.index("USING INDEX")  # build first, attach after


def test_use_instead_concurrent_index_then_using_index_passes():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "customer_name_code_uniq" '
                    'ON "shop_customer" ("name", "code")',
                    reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "customer_name_code_uniq"',
                )
            ],
            atomic=False,
        ),
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'ALTER TABLE "shop_customer" ADD CONSTRAINT "customer_name_code_uniq" '
                        'UNIQUE USING INDEX "customer_name_code_uniq"',
                        reverse_sql='ALTER TABLE "shop_customer" DROP CONSTRAINT "customer_name_code_uniq"',
                    )
                ],
                state_operations=[migrations.AddConstraint("customer", name_code_unique())],
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_alter_field_unique_builds_the_like_index_concurrently_too():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, unique=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM104"]
    code = result.last[0].fix.code
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS shop_customer_name_e6c6b028_like" in code
    assert "UNIQUE USING INDEX shop_customer_name_e6c6b028_uniq" in code
    assert "migrations.AlterField(model_name='customer', name='name', field=models.CharField(" in code


def test_add_field_unique_adds_the_column_first():
    result = run(
        initial(),
        [migrations.AddField("customer", "email", models.CharField(max_length=100, null=True, unique=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM104"]
    finding = result.last[0]
    assert "shop_customer.email" in finding.message
    assert "same DEFAULT" not in finding.message
    first, build, attach = (part.split("class Migration")[1] for part in finding.fix.code.split("\n\n# "))
    assert "migrations.AddField(model_name='customer', name='email'" in first and "unique" not in first
    assert "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS shop_customer_email_key" in build
    assert "unique=True" in attach and "USING INDEX shop_customer_email_key" in attach
    assert finding.fix.steps[0].startswith("Add the column without UNIQUE")


def test_add_field_unique_with_a_default_cannot_succeed_on_a_table_with_rows():
    result = run(
        initial(),
        [migrations.AddField("customer", "slug", models.CharField(max_length=10, unique=True, default="x"))],
        select=SELECT,
    )
    finding = result.last[0]
    assert "same DEFAULT" in finding.message
    assert any("backfill distinct values" in s for s in finding.fix.steps)


def test_one_to_one_field_attaches_with_runsql_after_a_state_only_add():
    field = models.OneToOneField("shop.Customer", models.CASCADE, null=True, related_name="+")
    result = run(initial(), [migrations.AddField("order", "ref", field)], select=SELECT)
    assert result.codes() == ["SM104"]
    first = result.last[0].fix.code.split("\n\n# ")[0].split("class Migration")[1]
    assert "ADD COLUMN ref_id bigint NULL CONSTRAINT" in first and "UNIQUE" not in first
    assert "migrations.AddField(model_name='order', name='ref'" in first


def test_alter_unique_together_is_flagged():
    result = run(initial(), [migrations.AlterUniqueTogether("order", {("customer", "note")})], select=SELECT)
    assert result.codes() == ["SM104"]
    assert result.last[0].table == "shop_order"
    assert "migrations.AlterUniqueTogether(" in result.last[0].fix.code


def test_deferrable_unique_keeps_its_deferral_on_the_attached_constraint():
    constraint = models.UniqueConstraint(
        fields=["name"], name="uq_name", deferrable=models.Deferrable.DEFERRED
    )
    result = run(initial(), [migrations.AddConstraint("customer", constraint)], select=SELECT)
    assert "UNIQUE USING INDEX uq_name DEFERRABLE INITIALLY DEFERRED" in result.last[0].fix.code


@pytest.mark.skipif(django.VERSION < (5, 0), reason="nulls_distinct is new in Django 5.0")
def test_nulls_not_distinct_is_carried_to_the_index():
    constraint = models.UniqueConstraint(fields=["phone"], name="uq_phone", nulls_distinct=False)
    result = run(initial(), [migrations.AddConstraint("customer", constraint)], select=SELECT)
    assert result.codes() == ["SM104"]
    assert "ON shop_customer (phone) NULLS NOT DISTINCT" in result.last[0].fix.code


def test_conditional_unique_constraint_is_left_to_create_index_rule():
    constraint = models.UniqueConstraint(fields=["name"], name="uq_c", condition=models.Q(age__gt=1))
    result = run(initial(), [migrations.AddConstraint("customer", constraint)], select=SELECT)
    assert result.sql() == ['CREATE UNIQUE INDEX "uq_c" ON "shop_customer" ("name") WHERE "age" > 1;']
    assert result.codes() == []


def test_unique_on_a_table_created_in_the_same_migration_passes():
    result = run(
        [
            *initial(),
            migrations.AddConstraint("customer", name_code_unique()),
            migrations.AddField(
                "customer", "email", models.CharField(max_length=100, null=True, unique=True)
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_unnamed_unique_gets_postgres_name():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" ADD UNIQUE ("phone")', migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM104"]
    code = result.last[0].fix.code
    assert (
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS shop_customer_phone_key ON shop_customer (phone)"
        in code
    )
    assert "SeparateDatabaseAndState" not in code  # hand-written SQL has no state to keep


def test_using_index_passes():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_customer" ADD CONSTRAINT "u" UNIQUE USING INDEX "u"')],
        select=SELECT,
    )
    assert result.codes() == []


def test_indexed_column_made_unique_keeps_its_like_index_and_drops_the_old_one_concurrently():
    member = migrations.CreateModel(
        "Member",
        [
            ("id", models.BigAutoField(primary_key=True)),
            ("nick", models.CharField(max_length=50, db_index=True)),
        ],
    )
    unique = migrations.AlterField("member", "nick", models.CharField(max_length=50, unique=True))
    [finding] = run([member], [unique], select=("SM104",)).last
    code = finding.fix.code
    assert "_like" not in code  # Django drops and recreates it under the same name: left alone
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "shop_member_nick_10f9e96a"' in code
    assert 'RunSQL(\'DROP INDEX IF EXISTS "shop_member_nick_10f9e96a"' not in code
