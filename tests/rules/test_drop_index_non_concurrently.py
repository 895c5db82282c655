from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM102",)


def created_index():
    return [migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))]


def test_docs_example_remove_index_is_flagged():
    result = run(
        initial(), created_index(), [migrations.RemoveIndex("order", "order_created_idx")], select=SELECT
    )
    assert result.codes() == ["SM102"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order"
    assert "order_created_idx" in finding.message and "queues behind it" in finding.message
    assert "held until the migration commits" in finding.message
    assert "RemoveIndexConcurrently(model_name='order', name='order_created_idx')" in finding.fix.code
    assert "from django.contrib.postgres.operations import RemoveIndexConcurrently" in finding.fix.code
    assert "atomic = False" in finding.fix.code


def test_use_instead_remove_index_concurrently_passes():
    result = run(
        initial(),
        created_index(),
        Mig([RemoveIndexConcurrently("order", "order_created_idx")], atomic=False),
        select=SELECT,
    )
    assert result.sql() == ['DROP INDEX CONCURRENTLY IF EXISTS "order_created_idx";']
    assert result.codes() == []


def test_db_index_false_flags_both_indexes_and_keeps_state_in_the_fix():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, db_index=True))],
        [migrations.AlterField("customer", "name", models.CharField(max_length=100))],
        select=SELECT,
    )
    assert result.codes() == ["SM102", "SM102"]  # the btree index and its _like twin
    assert {f.table for f in result.last} == {"shop_customer"}
    fix = result.last[0].fix
    assert "SeparateDatabaseAndState" in fix.code
    assert fix.code.count("DROP INDEX CONCURRENTLY IF EXISTS") == 2
    assert "_like" in fix.code
    assert "migrations.AlterField(model_name='customer', name='name'" in fix.code
    assert "atomic = False" in fix.code


def test_removing_a_conditional_unique_constraint_drops_an_index():
    keyword = {"condition": models.Q(age__gt=1)}
    result = run(
        initial(),
        [
            migrations.AddConstraint(
                "customer", models.UniqueConstraint(fields=["name"], name="uq_c", **keyword)
            )
        ],
        [migrations.RemoveConstraint("customer", "uq_c")],
        select=SELECT,
    )
    assert result.codes() == ["SM102"]
    assert "migrations.RemoveConstraint(model_name='customer', name='uq_c')" in result.last[0].fix.code


def test_index_created_in_the_same_migration_passes():
    result = run(
        initial(),
        [*created_index(), migrations.RemoveIndex("order", "order_created_idx")],
        select=SELECT,
    )
    assert result.codes() == []


def test_index_of_a_table_created_in_the_same_migration_passes():
    result = run(
        [
            *initial(),
            migrations.AlterField("customer", "name", models.CharField(max_length=100, db_index=True)),
            migrations.AlterField("customer", "name", models.CharField(max_length=100)),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_drop_of_two_indexes_is_split_in_the_fix():
    result = run(
        initial(),
        [migrations.RunSQL('DROP INDEX "idx_a", "idx_b"', migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM102", "SM102"]
    assert [f.table for f in result.last] == ["idx_a", "idx_b"]  # the table is unknown offline
    code = result.last[0].fix.code
    assert "DROP INDEX CONCURRENTLY IF EXISTS idx_a" in code
    assert "DROP INDEX CONCURRENTLY IF EXISTS idx_b" in code
    assert "atomic = False" in code


def test_cascade_is_dropped_from_the_concurrent_form():
    result = run(initial(), [migrations.RunSQL('DROP INDEX "idx_a" CASCADE')], select=SELECT)
    code = result.last[0].fix.code
    assert "DROP INDEX CONCURRENTLY IF EXISTS idx_a" in code and "CASCADE" not in code


def test_runsql_drop_index_concurrently_passes():
    result = run(
        initial(),
        Mig([migrations.RunSQL('DROP INDEX CONCURRENTLY IF EXISTS "idx_a"')], atomic=False),
        select=SELECT,
    )
    assert result.codes() == []


def test_non_atomic_migration_message_does_not_claim_a_held_lock():
    result = run(
        initial(),
        created_index(),
        Mig([migrations.RemoveIndex("order", "order_created_idx")], atomic=False),
        select=SELECT,
    )
    assert result.codes() == ["SM102"]
    assert "until the migration commits" not in result.last[0].message
