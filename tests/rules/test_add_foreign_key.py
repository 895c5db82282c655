from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM105",)

FK_NAME = "shop_order_referrer_fk"


def referrer(**kwargs):
    return models.ForeignKey("shop.customer", models.SET_NULL, null=True, related_name="+", **kwargs)


def test_docs_example_add_field_foreign_key_is_a_warning():
    result = run(initial(), [migrations.AddField("order", "referrer", referrer())], select=SELECT)
    assert result.codes() == ["SM105"]
    finding = result.last[0]
    assert finding.severity.label == "warning"  # new nullable column: no validation scan
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order"
    assert "SHARE ROW EXCLUSIVE on shop_customer" in finding.message and "needs no scan" in finding.message
    assert "held until the migration commits" in finding.message
    parts = finding.fix.code.split("\n\n# ")
    assert len(parts) == 4
    assert "db_constraint=False, db_index=False" in parts[0]
    assert "atomic = False" in parts[1]
    assert (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS shop_order_referrer_id_3a026614 ON shop_order (referrer_id)"
        in parts[1]
    )
    assert (
        "FOREIGN KEY (referrer_id) REFERENCES shop_customer (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
        in parts[2]
    )
    assert (
        "SeparateDatabaseAndState" in parts[2]
        and "db_constraint" not in parts[2].split("state_operations")[1]
    )
    assert 'VALIDATE CONSTRAINT "shop_order_referrer_id_3a026614_fk_shop_customer_id"' in parts[3]


def test_use_instead_column_index_not_valid_then_validate_passes():
    result = run(
        initial(),
        [migrations.AddField("order", "referrer", referrer(db_constraint=False, db_index=False))],
        Mig(
            [
                migrations.SeparateDatabaseAndState(
                    database_operations=[
                        migrations.RunSQL(
                            'CREATE INDEX CONCURRENTLY IF NOT EXISTS "shop_order_referrer_idx" '
                            'ON "shop_order" ("referrer_id")',
                            reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "shop_order_referrer_idx"',
                        )
                    ],
                    state_operations=[
                        migrations.AlterField("order", "referrer", referrer(db_constraint=False)),
                    ],
                )
            ],
            atomic=False,
        ),
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        f'ALTER TABLE "shop_order" ADD CONSTRAINT "{FK_NAME}" FOREIGN KEY ("referrer_id") '
                        'REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID',
                        reverse_sql=f'ALTER TABLE "shop_order" DROP CONSTRAINT "{FK_NAME}"',
                    )
                ],
                state_operations=[migrations.AlterField("order", "referrer", referrer())],
            )
        ],
        [
            migrations.RunSQL(
                f'ALTER TABLE "shop_order" VALIDATE CONSTRAINT "{FK_NAME}"', migrations.RunSQL.noop
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_constraint_on_an_existing_column_is_an_error_with_share_row_exclusive():
    result = run(
        initial(),
        [
            migrations.AlterField(
                "order", "customer", models.ForeignKey("shop.Customer", models.CASCADE, db_constraint=False)
            )
        ],
        [migrations.AlterField("order", "customer", models.ForeignKey("shop.Customer", models.CASCADE))],
        select=SELECT,
    )
    assert result.codes() == ["SM105"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "SHARE ROW EXCLUSIVE"
    assert "no INSERT, UPDATE or DELETE on shop_order or shop_customer" in finding.message
    parts = finding.fix.code.split("\n\n# ")
    assert len(parts) == 2  # no column to add, no index to build: NOT VALID, then VALIDATE
    assert "NOT VALID" in parts[0] and "migrations.AlterField(model_name='order', name='customer'" in parts[0]
    assert "VALIDATE CONSTRAINT" in parts[1]


def test_turning_a_column_into_a_foreign_key_after_a_type_change_blocks_reads_too():
    field = models.ForeignKey("shop.Customer", models.CASCADE, db_column="quantity", related_name="+")
    result = run(initial(), [migrations.AlterField("order", "quantity", field)], select=SELECT)
    assert result.codes() == ["SM105"]
    finding = result.last[0]
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "reads wait too" in finding.message
    first = finding.fix.code.split("\n\n# ")[0]
    assert (
        "atomic = False" in first
        and "CREATE INDEX CONCURRENTLY IF NOT EXISTS shop_order_quantity_3b104b00" in first
    )


def test_new_column_with_a_default_is_validated_and_is_an_error():
    field = models.ForeignKey("shop.Customer", models.CASCADE, default=1, related_name="+")
    result = run(initial(), [migrations.AddField("order", "buyer", field)], select=SELECT)
    assert result.codes() == ["SM105"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert "with a default" in finding.message and "checks every row" in finding.message


def test_runsql_foreign_key_gets_not_valid_and_validate():
    sql = 'ALTER TABLE "shop_order" ADD CONSTRAINT "fk" FOREIGN KEY ("quantity") REFERENCES "shop_customer" ("id")'
    result = run(initial(), [migrations.RunSQL(sql)], select=SELECT)
    assert result.codes() == ["SM105"]
    code = result.last[0].fix.code
    assert "ADD CONSTRAINT fk FOREIGN KEY (quantity) REFERENCES shop_customer (id) NOT VALID" in code
    assert 'VALIDATE CONSTRAINT "fk"' in code
    assert "SeparateDatabaseAndState" not in code


def test_runsql_add_column_references_is_split_from_the_constraint():
    sql = 'ALTER TABLE "shop_order" ADD COLUMN "seller_id" bigint REFERENCES "shop_customer" ("id")'
    result = run(initial(), [migrations.RunSQL(sql)], select=SELECT)
    assert result.codes() == ["SM105"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    code = finding.fix.code
    assert "'ALTER TABLE shop_order ADD COLUMN seller_id bigint'" in code
    assert (
        "ADD CONSTRAINT shop_order_seller_id_fkey FOREIGN KEY (seller_id) REFERENCES shop_customer (id) NOT VALID"
        in code
    )


def test_not_valid_and_not_enforced_pass():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "a" FOREIGN KEY ("quantity") '
                'REFERENCES "shop_customer" ("id") NOT VALID'
            ),
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "b" FOREIGN KEY ("quantity") '
                'REFERENCES "shop_customer" ("id") NOT ENFORCED'
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_foreign_keys_of_tables_created_in_the_migration_pass():
    result = run(initial(), select=SELECT)  # Order.customer is created with its table
    assert result.codes(all_migrations=True) == []
