from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM408",)


def referrer(**kwargs):
    return migrations.AddField(
        "order",
        "referrer",
        models.ForeignKey("shop.Customer", models.SET_NULL, null=True, related_name="+", **kwargs),
    )


def test_docs_example_foreign_key_without_index_is_flagged():
    result = run(initial(), [referrer(db_index=False)], select=SELECT)
    assert result.codes() == ["SM408"]
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_order"
    assert finding.message.startswith("Foreign key shop_order(referrer_id) to shop_customer has no index")
    code = finding.fix.code
    assert "migrations.AddField('order', 'referrer', models.ForeignKey(" in code
    assert "db_index=False" in code and "db_constraint=False" in code
    assert (
        "AddIndexConcurrently('order', models.Index(fields=['referrer'], name='shop_order_referrer_id_idx'))"
        in code
    )
    assert code.index("db_constraint=False") < code.index("atomic = False")


def test_use_instead_column_then_index_then_constraint_passes():
    result = run(
        initial(),
        [referrer(db_index=False, db_constraint=False)],
        Mig(
            [AddIndexConcurrently("order", models.Index(fields=["referrer"], name="order_referrer_idx"))],
            atomic=False,
        ),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_referrer_fk" FOREIGN KEY ("referrer_id") '
                'REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID',
                'ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_referrer_fk"',
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_default_db_index_passes():
    result = run(initial(), [referrer()], select=SELECT)
    assert result.codes() == []


def test_index_in_the_same_migration_covers_it():
    result = run(
        initial(),
        [
            referrer(db_index=False),
            migrations.AddIndex(
                "order", models.Index(fields=["referrer", "created"], name="order_ref_created")
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_index_not_leading_with_the_column_does_not_cover_it():
    result = run(
        initial(),
        [
            referrer(db_index=False),
            migrations.AddIndex(
                "order", models.Index(fields=["created", "referrer"], name="order_created_ref")
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM408"]


def test_create_model_foreign_key_without_index_and_unique_together_cover():
    def item(**options):
        return migrations.CreateModel(
            "Item",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("order", models.ForeignKey("shop.Order", models.CASCADE, db_index=False)),
                ("sku", models.CharField(max_length=20)),
            ],
            options=options,
        )

    flagged = run(initial(), [item()], select=SELECT)
    assert [f.table for f in flagged.last] == ["shop_item"]
    assert "('order', models.ForeignKey(...)),  # without db_index=False" in flagged.last[0].fix.code
    covered = run(initial(), [item(unique_together={("order", "sku")})], select=SELECT)
    assert covered.codes() == []


def test_hand_written_references_without_index_is_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "CREATE TABLE shop_note (id bigint PRIMARY KEY, order_id bigint REFERENCES shop_order (id))",
                "DROP TABLE shop_note",
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.message.startswith("Foreign key shop_note(order_id) to shop_order has no index")


def test_constraint_added_to_an_existing_column_is_not_judged():
    result = run(
        initial(),
        [referrer(db_index=False, db_constraint=False)],
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_referrer_fk" FOREIGN KEY ("referrer_id") '
                'REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID',
                'ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_referrer_fk"',
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []
