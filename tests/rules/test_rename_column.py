from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM203",)


def test_docs_example_rename_field_is_flagged():
    result = run(initial(), [migrations.RenameField("customer", "fax", "telefax")], select=SELECT)
    assert result.sql() == ['ALTER TABLE "shop_customer" RENAME COLUMN "fax" TO "telefax";']
    assert result.codes() == ["SM203"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_customer"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "old pods query 'fax'" in finding.message and "queries 'telefax'" in finding.message
    assert "column does not exist" in finding.message
    code = finding.fix.code
    assert "migrations.RenameField(model_name='customer', old_name='fax', new_name='telefax')" in code
    assert (
        "migrations.AlterField(model_name='customer', name='telefax', "
        "field=models.CharField(max_length=20, null=True, db_column='fax'))" in code
    )
    assert "database_operations=[]" in code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_state_only_rename_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[
                    migrations.RenameField("customer", "fax", "telefax"),
                    migrations.AlterField(
                        "customer", "telefax", models.CharField(max_length=20, null=True, db_column="fax")
                    ),
                ],
                database_operations=[],
            )
        ],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_fix_code_itself_emits_no_sql():
    """The fix, applied as written, renames nothing in the database."""
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[
                    migrations.RenameField(model_name="customer", old_name="fax", new_name="telefax"),
                    migrations.AlterField(
                        model_name="customer",
                        name="telefax",
                        field=models.CharField(max_length=20, null=True, db_column="fax"),
                    ),
                ],
                database_operations=[],
            )
        ],
        [migrations.AddField("customer", "email", models.CharField(max_length=100, null=True))],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_foreign_key_rename_keeps_the_id_column_in_the_fix():
    result = run(initial(), [migrations.RenameField("order", "customer", "buyer")], select=SELECT)
    assert result.codes() == ["SM203"]
    finding = result.last[0]
    assert "customer_id" in finding.message and "buyer_id" in finding.message
    assert "db_column='customer_id'" in finding.fix.code


def test_alter_field_changing_db_column_is_flagged():
    result = run(
        initial(),
        [
            migrations.AlterField(
                "customer", "fax", models.CharField(max_length=20, null=True, db_column="fax2")
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM203"]
    fix = result.last[0].fix
    assert fix.title == "Keep the database column name"
    # the column keeps its default name: db_column is simply not set
    assert "field=models.CharField(max_length=20, null=True))" in fix.code


def test_alter_field_back_from_an_explicit_db_column_keeps_it():
    result = run(
        initial(),
        [
            migrations.AlterField(
                "customer", "fax", models.CharField(max_length=20, null=True, db_column="telefax")
            )
        ],
        [
            migrations.AlterField(
                "customer", "fax", models.CharField(max_length=20, null=True, db_column="fax_no")
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM203"]
    assert "db_column='telefax'" in result.last[0].fix.code


def test_runsql_rename_column_with_state_operations_is_flagged():
    # the state after the RunSQL knows only the new name: still a live column
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" RENAME COLUMN "fax" TO "telefax"',
                migrations.RunSQL.noop,
                state_operations=[migrations.RenameField("customer", "fax", "telefax")],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM203"]
    assert "migrations.AlterField(model_name='customer', name='telefax'" in result.last[0].fix.code


def test_runsql_rename_of_a_column_no_model_uses_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
            )
        ],
        [migrations.RunSQL('ALTER TABLE "shop_customer" RENAME COLUMN "fax" TO "fax_old"')],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_runsql_rename_on_a_table_unknown_to_the_state_is_flagged():
    result = run(
        initial(), [migrations.RunSQL('ALTER TABLE "audit" RENAME COLUMN "who" TO "actor"')], select=SELECT
    )
    assert result.codes() == ["SM203"]


def test_column_swap_in_one_transaction_passes():
    # change-column-type recipe: the old name is taken over by the new column in the same transaction
    result = run(
        initial(),
        [migrations.AddField("order", "quantity_new", models.BigIntegerField(null=True))],
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'ALTER TABLE "shop_order" RENAME COLUMN "quantity" TO "quantity_old"; '
                        'ALTER TABLE "shop_order" RENAME COLUMN "quantity_new" TO "quantity"'
                    )
                ],
                state_operations=[
                    migrations.RemoveField("order", "quantity_new"),
                    migrations.AlterField("order", "quantity", models.BigIntegerField(default=1)),
                ],
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_swap_across_transactions_is_flagged():
    result = run(
        initial(),
        [migrations.AddField("order", "quantity_new", models.BigIntegerField(null=True))],
        Mig(
            [
                migrations.RunSQL('ALTER TABLE "shop_order" RENAME COLUMN "quantity" TO "quantity_old"'),
                migrations.RunSQL('ALTER TABLE "shop_order" RENAME COLUMN "quantity_new" TO "quantity"'),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM203", "SM203"]


def test_rename_of_a_column_added_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "email", models.CharField(max_length=100, null=True)),
            migrations.RenameField("customer", "email", "mail"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_on_a_new_table_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel(
                "Coupon", [("id", models.BigAutoField(primary_key=True)), ("code", models.TextField())]
            ),
            migrations.RenameField("coupon", "code", "token"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_of_a_field_with_db_column_emits_no_sql_and_passes():
    result = run(
        initial(),
        [
            migrations.AlterField(
                "customer", "fax", models.CharField(max_length=20, null=True, db_column="fax")
            )
        ],
        [migrations.RenameField("customer", "fax", "telefax")],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_fixes_are_valid_python():
    result = run(
        initial(),
        [
            migrations.AlterField(
                "customer", "fax", models.CharField(max_length=20, null=True, db_column="fax2")
            ),
            migrations.RunSQL('ALTER TABLE "shop_customer" RENAME COLUMN "phone" TO "mobile"'),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM203", "SM203"]
    for finding in result.last:
        compile(finding.fix.code, "fix", "exec")
