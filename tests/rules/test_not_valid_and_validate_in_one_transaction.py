import django
from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM107",)


def quantity_check():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"  # renamed in Django 5.1
    return models.CheckConstraint(**{keyword: models.Q(quantity__gte=1)}, name="order_quantity_gte_1")


def both():
    return [
        AddConstraintNotValid("order", quantity_check()),
        ValidateConstraint("order", "order_quantity_gte_1"),
    ]


def test_docs_example_not_valid_and_validate_in_one_atomic_migration_is_flagged():
    result = run(initial(), both(), select=SELECT)
    assert result.codes() == ["SM107"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order"
    assert "order_quantity_gte_1" in finding.message and "same transaction" in finding.message
    assert 'VALIDATE CONSTRAINT "order_quantity_gte_1"' in finding.location.sql
    this, following = finding.fix.code.split("\n\n# ")
    assert "AddConstraintNotValid(model_name='order'" in this and "ValidateConstraint" not in this
    assert "from django.contrib.postgres.operations import ValidateConstraint" in following
    assert "ValidateConstraint(model_name='order', name='order_quantity_gte_1')" in following


def test_use_instead_validate_in_the_next_migration_passes():
    first, second = both()
    result = run(initial(), [first], [second], select=SELECT)
    assert result.codes(all_migrations=True) == []


def test_non_atomic_migration_runs_them_in_separate_transactions_and_passes():
    result = run(initial(), Mig(both(), atomic=False), select=SELECT)
    assert result.codes() == []


def test_one_runsql_string_in_a_non_atomic_migration_is_one_transaction():
    sql = (
        'ALTER TABLE "shop_order" ADD CONSTRAINT "q" CHECK ("quantity" > 0) NOT VALID; '
        'ALTER TABLE "shop_order" VALIDATE CONSTRAINT "q"'
    )
    result = run(initial(), Mig([migrations.RunSQL(sql)], atomic=False), select=SELECT)
    assert result.codes() == ["SM107"]
    code = result.last[0].fix.code
    assert '\'ALTER TABLE "shop_order" ADD CONSTRAINT "q" CHECK ("quantity" > 0) NOT VALID\'' in code
    assert 'reverse_sql=\'ALTER TABLE "shop_order" DROP CONSTRAINT "q"\'' in code
    assert '\'ALTER TABLE "shop_order" VALIDATE CONSTRAINT "q"\', migrations.RunSQL.noop' in code


def test_foreign_key_keeps_both_tables_from_writing():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "fk" FOREIGN KEY ("quantity") '
                'REFERENCES "shop_customer" ("id") NOT VALID'
            ),
            migrations.RunSQL('ALTER TABLE "shop_order" VALIDATE CONSTRAINT "fk"'),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM107"]
    finding = result.last[0]
    assert finding.lock == "SHARE ROW EXCLUSIVE"
    assert "no INSERT, UPDATE or DELETE on shop_order or shop_customer" in finding.message


def test_both_in_one_alter_table_statement():
    sql = 'ALTER TABLE "shop_order" ADD CONSTRAINT "q" CHECK ("quantity" > 0) NOT VALID, VALIDATE CONSTRAINT "q"'
    result = run(initial(), [migrations.RunSQL(sql)], select=SELECT)
    assert result.codes() == ["SM107"]
    this = result.last[0].fix.code.split("\n\n# ")[0]
    assert "ALTER TABLE shop_order ADD CONSTRAINT q CHECK (quantity > 0) NOT VALID'" in this
    assert "VALIDATE" not in this.split("class Migration")[1]


def test_same_name_on_another_table_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL('ALTER TABLE "shop_order" ADD CONSTRAINT "q" CHECK ("quantity" > 0) NOT VALID'),
            migrations.RunSQL('ALTER TABLE "shop_customer" VALIDATE CONSTRAINT "q"'),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_constraint_on_a_table_created_in_the_same_migration_passes():
    result = run([*initial(), *both()], select=SELECT)
    assert result.codes() == []
