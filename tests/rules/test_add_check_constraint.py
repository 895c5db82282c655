import django
from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM106",)


def quantity_check():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"  # renamed in Django 5.1
    return models.CheckConstraint(**{keyword: models.Q(quantity__gte=1)}, name="order_quantity_gte_1")


def test_docs_example_add_check_constraint_is_flagged():
    result = run(initial(), [migrations.AddConstraint("order", quantity_check())], select=SELECT)
    assert result.codes() == ["SM106"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order"
    assert "order_quantity_gte_1" in finding.message and "reads every row" in finding.message
    first, second = finding.fix.code.split("\n\n# ")
    assert "from django.contrib.postgres.operations import AddConstraintNotValid" in first
    assert "AddConstraintNotValid(model_name='order', constraint=models.CheckConstraint(" in first
    assert "ValidateConstraint(model_name='order', name='order_quantity_gte_1')" in second


def test_use_instead_not_valid_then_validate_in_the_next_migration_passes():
    result = run(
        initial(),
        [AddConstraintNotValid("order", quantity_check())],
        [ValidateConstraint("order", "order_quantity_gte_1")],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_alter_field_to_positive_integer_adds_a_check():
    result = run(
        initial(),
        [migrations.AlterField("customer", "age", models.PositiveIntegerField(null=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM106"]
    code = result.last[0].fix.code
    assert "ADD CONSTRAINT shop_customer_age_f6d8ee0e_check CHECK (age >= 0) NOT VALID" in code
    assert (
        "SeparateDatabaseAndState" in code
        and "migrations.AlterField(model_name='customer', name='age'" in code
    )
    assert 'VALIDATE CONSTRAINT "shop_customer_age_f6d8ee0e_check"' in code


def test_add_field_with_inline_check_reads_the_table():
    result = run(
        initial(),
        [migrations.AddField("customer", "rank", models.PositiveIntegerField(null=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM106"]
    finding = result.last[0]
    assert "shop_customer.rank" in finding.message and "inline CHECK" in finding.message
    code = finding.fix.code
    assert "'ALTER TABLE shop_customer ADD COLUMN rank integer NULL'" in code  # the CHECK moved out
    assert "ADD CONSTRAINT shop_customer_rank_check CHECK (rank >= 0) NOT VALID" in code
    assert "migrations.AddField(model_name='customer', name='rank'" in code


def test_positive_field_on_a_new_table_passes():
    result = run(
        [
            migrations.CreateModel(
                "Stock",
                [("id", models.BigAutoField(primary_key=True)), ("level", models.PositiveIntegerField())],
            ),
            migrations.AddConstraint(
                "stock",
                models.CheckConstraint(
                    **{"condition" if django.VERSION >= (5, 1) else "check": models.Q(level__lte=100)},
                    name="lvl",
                ),
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_check_not_valid_or_not_enforced_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL('ALTER TABLE "shop_order" ADD CONSTRAINT "a" CHECK ("quantity" > 0) NOT VALID'),
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "b" CHECK ("quantity" > 0) NOT ENFORCED'
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_check_gets_the_runsql_recipe():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_order" ADD CHECK ("quantity" > 0)')],
        select=SELECT,
    )
    assert result.codes() == ["SM106"]
    code = result.last[0].fix.code
    assert "ADD CONSTRAINT shop_order_quantity_check CHECK (quantity > 0) NOT VALID" in code
    assert 'VALIDATE CONSTRAINT "shop_order_quantity_check"' in code
    assert "SeparateDatabaseAndState" not in code


def test_unnamed_check_on_two_columns_gets_the_table_only_name():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_order" ADD CHECK ("quantity" > 0 AND "total" >= 0)')],
        select=SELECT,
    )
    assert "ADD CONSTRAINT shop_order_check CHECK" in result.last[0].fix.code


def test_fix_for_a_positive_integer_column_is_reversible():
    add = migrations.AddField("order", "rank", models.PositiveIntegerField(null=True))
    [finding] = run(initial(), [add], select=SELECT).last
    assert 'reverse_sql=\'ALTER TABLE "shop_order" DROP COLUMN "rank"\'' in finding.fix.code
