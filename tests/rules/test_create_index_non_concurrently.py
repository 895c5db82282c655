from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM101",)


def test_docs_example_add_index_is_flagged():
    result = run(
        initial(),
        [migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))],
        select=SELECT,
    )
    assert result.codes() == ["SM101"]
    finding = result.last[0]
    assert finding.table == "shop_order"
    assert finding.lock == "SHARE"
    assert "AddIndexConcurrently" in finding.fix.code
    assert "atomic = False" in finding.fix.code


def test_use_instead_add_index_concurrently_passes():
    result = run(
        initial(),
        Mig(
            [AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx"))],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_db_index_field_flags_index_and_like_index_with_read_blocking():
    result = run(
        initial(),
        [
            migrations.AddField(
                "customer", "email", models.CharField(max_length=200, null=True, db_index=True)
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM101", "SM101"]  # the btree index and the _like pattern index
    # ADD COLUMN took ACCESS EXCLUSIVE earlier in the transaction: reads are blocked too.
    assert all(f.lock == "ACCESS EXCLUSIVE" for f in result.last)
    assert "varchar_pattern_ops" in result.last[1].location.sql


def test_foreign_key_index_on_existing_table_is_flagged():
    result = run(
        initial(),
        [
            migrations.AddField(
                "order",
                "referrer",
                models.ForeignKey("shop.Customer", models.SET_NULL, null=True, related_name="+"),
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM101"]


def test_index_on_table_created_in_same_migration_passes():
    result = run(initial(), select=SELECT)  # the FK index on shop_order is built on a new table
    assert result.codes(all_migrations=True) == []


def test_fix_for_db_index_builds_concurrently_and_keeps_state():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, db_index=True))],
        select=SELECT,
    )
    fix = result.last[0].fix
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS" in fix.code
    assert "SeparateDatabaseAndState" in fix.code
    assert "db_index=False" in fix.code
