from django.contrib.postgres.indexes import HashIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM409",)


def test_docs_example_btree_on_text_is_flagged_once():
    result = run(
        initial(),
        [migrations.AddField("order", "comment", models.TextField(null=True, db_index=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM409"]  # not again for Django's _like twin
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_order"
    assert "is a B-tree on shop_order.comment (text, no length limit)" in finding.message
    assert "index row size exceeds btree maximum" in finding.message
    assert "AddIndexConcurrently('order', HashIndex(fields=['comment'], name='shop_order_comment_hash'))" in (
        finding.fix.code
    )


def test_use_instead_hash_index_passes():
    result = run(
        initial(),
        [migrations.AddField("order", "comment", models.TextField(null=True))],
        Mig(
            [AddIndexConcurrently("order", HashIndex(fields=["comment"], name="order_comment_hash"))],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_bounded_varchar_index_passes():
    result = run(
        initial(),
        [
            migrations.AddField(
                "customer", "region", models.CharField(max_length=30, null=True, db_index=True)
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_more_than_three_columns_is_flagged():
    index = models.Index(fields=["customer", "created", "quantity", "total"], name="order_wide_idx")
    result = run(initial(), [migrations.AddIndex("order", index)], select=SELECT)
    [finding] = result.last
    assert finding.message.startswith("Index order_wide_idx on shop_order has 4 key columns")
    assert "models.Index(fields=['customer_id', 'created'], include=['quantity', 'total'], name='...')" in (
        finding.fix.code
    )


def test_include_columns_need_postgres_11():
    index = models.Index(fields=["customer", "created", "quantity", "total"], name="order_wide_idx")
    result = run(initial(), [migrations.AddIndex("order", index)], select=SELECT, pg_version=10)
    fix = result.last[0].fix
    assert "include=" not in fix.code
    assert any("no INCLUDE columns" in s for s in fix.steps)


def test_three_columns_and_unique_indexes_pass():
    three = models.Index(fields=["customer", "created", "quantity"], name="order_three_idx")
    unique = models.UniqueConstraint(
        fields=["customer", "created", "quantity", "total"], name="order_wide_uniq"
    )
    result = run(
        initial(),
        [migrations.AddIndex("order", three), migrations.AddConstraint("order", unique)],
        select=SELECT,
    )
    assert result.codes() == []


def test_text_column_created_earlier_in_the_migration_is_known():
    result = run(
        [
            migrations.RunSQL(
                "CREATE TABLE shop_note (id bigint PRIMARY KEY, body text); CREATE INDEX note_body ON shop_note (body)",
                "DROP TABLE shop_note",
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert "is a B-tree on shop_note.body (text" in finding.message
