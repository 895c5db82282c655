from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM103",)

CREATE = 'CREATE INDEX CONCURRENTLY "order_created_idx" ON "shop_order" ("created")'


def test_docs_example_runsql_concurrently_in_atomic_migration_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL(CREATE, reverse_sql='DROP INDEX CONCURRENTLY "order_created_idx"')],
        select=SELECT,
    )
    assert result.codes() == ["SM103"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_order"
    assert finding.lock == "SHARE UPDATE EXCLUSIVE"
    assert "cannot run inside a transaction block" in finding.message
    assert "the migration's transaction" in finding.message
    code = finding.fix.code
    assert "atomic = False" in code
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_created_idx ON shop_order (created)" in code
    assert "reverse_sql='DROP INDEX CONCURRENTLY \"order_created_idx\"'" in code


def test_use_instead_non_atomic_migration_passes():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "order_created_idx" ON "shop_order" ("created")',
                    reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "order_created_idx"',
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_add_index_concurrently_in_atomic_migration_is_refused_by_django():
    index = models.Index(fields=["age"], name="cust_age_idx")
    result = run(initial(), [AddIndexConcurrently("customer", index)], select=SELECT)
    assert result.codes() == ["SM103"]
    finding = result.last[0]
    assert "NotSupportedError" in finding.message
    code = finding.fix.code
    assert "from django.contrib.postgres.operations import AddIndexConcurrently" in code
    assert "AddIndexConcurrently(model_name='customer', index=models.Index(" in code
    assert "atomic = False" in code


def test_remove_index_concurrently_in_atomic_migration_is_flagged():
    index = models.Index(fields=["age"], name="cust_age_idx")
    result = run(
        initial(),
        [migrations.AddIndex("customer", index)],
        [RemoveIndexConcurrently("customer", "cust_age_idx")],
        select=SELECT,
    )
    assert result.codes() == ["SM103"]
    assert result.last[0].table == "shop_customer"


def test_several_concurrent_statements_in_one_runsql_string_are_one_implicit_transaction():
    two = (
        'CREATE INDEX CONCURRENTLY "idx_a" ON "shop_customer" ("age"); '
        'CREATE INDEX CONCURRENTLY "idx_b" ON "shop_customer" ("name")'
    )
    result = run(
        initial(), Mig([migrations.RunSQL(two, migrations.RunSQL.noop)], atomic=False), select=SELECT
    )
    assert result.codes() == ["SM103", "SM103"]
    finding = result.last[0]
    assert "one implicit transaction" in finding.message and "1 other statement" in finding.message
    assert "already applied" not in finding.message  # nothing ran before it
    code = finding.fix.code
    assert "migrations.RunSQL([" in code
    assert "'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON shop_customer (age)'," in code
    assert "'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_b ON shop_customer (name)'," in code


def test_batch_after_other_operations_mentions_the_half_applied_migration():
    pair = 'SELECT 1; DROP INDEX CONCURRENTLY "idx_a"'
    result = run(
        initial(),
        Mig([migrations.RunSQL("SELECT 0"), migrations.RunSQL(pair)], atomic=False),
        select=SELECT,
    )
    assert result.codes() == ["SM103"]
    assert "already applied" in result.last[0].message
    assert "DROP INDEX CONCURRENTLY IF EXISTS idx_a" in result.last[0].fix.code


def test_list_items_are_executed_one_by_one_and_pass():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    [
                        'CREATE INDEX CONCURRENTLY "idx_a" ON "shop_customer" ("age")',
                        'CREATE INDEX CONCURRENTLY "idx_b" ON "shop_customer" ("name")',
                    ]
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_reindex_drop_and_detach_concurrently_in_atomic_migration_are_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL('REINDEX TABLE CONCURRENTLY "shop_order"'),
            migrations.RunSQL('DROP INDEX CONCURRENTLY IF EXISTS "idx_a"'),
            migrations.RunSQL('ALTER TABLE "events" DETACH PARTITION "events_2020" CONCURRENTLY'),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM103", "SM103", "SM103"]
    assert [f.table for f in result.last] == ["shop_order", "idx_a", "events"]


def test_non_concurrent_statements_in_one_string_pass():
    result = run(
        initial(),
        Mig([migrations.RunSQL('CREATE INDEX "idx_a" ON "shop_customer" ("age"); SELECT 1')], atomic=False),
        select=SELECT,
    )
    assert result.codes() == []


def test_refresh_materialized_view_concurrently_runs_in_a_transaction_and_passes():
    result = run(
        initial(), [migrations.RunSQL('REFRESH MATERIALIZED VIEW CONCURRENTLY "stats"')], select=SELECT
    )
    assert result.codes() == []


def test_separate_database_and_state_moves_whole():
    index = models.Index(fields=["age"], name="cust_age_idx")
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL('CREATE INDEX CONCURRENTLY "cust_age_idx" ON "shop_customer" ("age")')
                ],
                state_operations=[migrations.AddIndex("customer", index)],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM103"]
    fix = result.last[0].fix
    assert "migrations.SeparateDatabaseAndState(" in fix.code and "state_operations=" in fix.code
    assert "only the SeparateDatabaseAndState" in fix.steps[0]
