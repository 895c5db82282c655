from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM204",)


def tags() -> list[object]:
    return [
        migrations.CreateModel("Tag", [("id", models.BigAutoField(primary_key=True))]),
        migrations.AddField("customer", "tags", models.ManyToManyField("shop.Tag")),
    ]


def test_docs_example_rename_model_is_flagged():
    result = run(initial(), [migrations.RenameModel("Order", "Purchase")], select=SELECT)
    assert result.codes() == ["SM204"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_order"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "Renaming table shop_order to shop_purchase" in finding.message
    assert "relation does not exist" in finding.message
    code = finding.fix.code
    assert "migrations.RenameModel(old_name='Order', new_name='Purchase')" in code
    assert "migrations.AlterModelTable(name='Purchase', table='shop_order')" in code
    assert "database_operations=[]" in code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_state_only_rename_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[
                    migrations.RenameModel("Order", "Purchase"),
                    migrations.AlterModelTable("Purchase", "shop_order"),
                ],
                database_operations=[],
            )
        ],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_use_instead_rename_behind_a_view_passes_and_the_view_is_dropped_later():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'ALTER TABLE "shop_order" RENAME TO "shop_purchase"; '
                        'CREATE VIEW "shop_order" AS SELECT * FROM "shop_purchase"',
                        reverse_sql='DROP VIEW "shop_order"; ALTER TABLE "shop_purchase" RENAME TO "shop_order"',
                    )
                ],
                state_operations=[migrations.AlterModelTable("Order", "shop_purchase")],
            )
        ],
        Mig(
            [migrations.RunSQL('DROP VIEW IF EXISTS "shop_order"', migrations.RunSQL.noop)],
            attrs={"safe_migrations_phase": "post-deploy"},
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_rename_and_view_in_different_transactions_is_flagged():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL('ALTER TABLE "shop_order" RENAME TO "shop_purchase"'),
                migrations.RunSQL('CREATE VIEW "shop_order" AS SELECT * FROM "shop_purchase"'),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM204"]


def test_alter_model_table_is_flagged_once_with_its_many_to_many_table():
    result = run(initial(), tags(), [migrations.AlterModelTable("Customer", "clients")], select=SELECT)
    assert len(result.sql()) == 2  # the model's table and its many-to-many table
    assert result.codes() == ["SM204"]
    finding = result.last[0]
    assert finding.table == "shop_customer"
    assert "many-to-many tables are renamed too: shop_customer_tags" in finding.message
    code = finding.fix.code
    assert 'CREATE VIEW "shop_customer" AS SELECT * FROM "clients"' in code
    assert 'CREATE VIEW "shop_customer_tags" AS SELECT * FROM "clients_tags"' in code
    assert "state_operations=[migrations.AlterModelTable(name='Customer', table='clients')]" in code
    assert 'safe_migrations_phase = "post-deploy"' in code
    compile(result.last[0].fix.code, "fix", "exec")


def test_fix_code_for_alter_model_table_passes_this_rule():
    result = run(
        initial(),
        [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'ALTER TABLE "shop_customer" RENAME TO "clients"; '
                        'CREATE VIEW "shop_customer" AS SELECT * FROM "clients"',
                        reverse_sql='DROP VIEW IF EXISTS "shop_customer"; '
                        'ALTER TABLE "clients" RENAME TO "shop_customer"',
                    )
                ],
                state_operations=[migrations.AlterModelTable(name="Customer", table="clients")],
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_model_targeted_by_many_to_many_mentions_the_column():
    result = run(initial(), tags(), [migrations.RenameModel("Tag", "Label")], select=SELECT)
    assert result.codes() == ["SM204"]
    finding = result.last[0]
    assert finding.table == "shop_tag"
    assert "renames the columns that many-to-many tables name after the model" in finding.message
    assert any("explicit through model" in step for step in finding.fix.steps)


def test_rename_many_to_many_field_renames_its_table():
    result = run(initial(), tags(), [migrations.RenameField("customer", "tags", "labels")], select=SELECT)
    assert result.codes() == ["SM204"]
    finding = result.last[0]
    assert "many-to-many table shop_customer_tags" in finding.message
    assert "db_table='shop_customer_tags'" in finding.fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_runsql_rename_of_a_model_table_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_order" RENAME TO "shop_purchase"', migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM204"]
    assert 'CREATE VIEW "shop_order"' in result.last[0].fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_runsql_rename_with_state_operations_is_flagged():
    # the state after the RunSQL knows the new table name only
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" RENAME TO "shop_purchase"',
                migrations.RunSQL.noop,
                state_operations=[migrations.AlterModelTable("Order", "shop_purchase")],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM204"]
    assert "migrations.AlterModelTable(name='Order', table='shop_purchase')" in result.last[0].fix.code


def test_runsql_rename_of_a_table_no_model_uses_passes():
    result = run(initial(), [migrations.RunSQL('ALTER TABLE "legacy" RENAME TO "legacy_old"')], select=SELECT)
    assert result.codes() == []


def test_table_swap_in_one_transaction_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" RENAME TO "shop_order_old"; '
                'ALTER TABLE "shop_order_new" RENAME TO "shop_order"'
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_of_a_new_table_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel("Coupon", [("id", models.BigAutoField(primary_key=True))]),
            migrations.RenameModel("Coupon", "Voucher"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_model_with_explicit_db_table_emits_no_table_rename():
    result = run(
        initial(),
        [migrations.AlterModelTable("Order", "orders")],
        [migrations.RenameModel("Order", "Purchase")],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_index_rename_is_not_a_table_rename():
    result = run(
        initial(),
        [migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))],
        [migrations.RunSQL('ALTER INDEX "order_created_idx" RENAME TO "shop_order"')],
        select=SELECT,
    )
    assert result.codes() == []


def test_rename_followed_by_an_empty_table_under_the_old_name_is_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" RENAME TO "shop_order_archive"; CREATE TABLE "shop_order" (id bigint)'
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM204"]
