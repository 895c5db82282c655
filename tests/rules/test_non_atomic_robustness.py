from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM307",)


def fill(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(pk=1).update(age=0)


def created_idx():
    return AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx"))


def note_idx():
    return AddIndexConcurrently("order", models.Index(fields=["note"], name="order_note_idx"))


def test_docs_example_two_concurrent_indexes_are_flagged():
    result = run(initial(), Mig([created_idx(), note_idx()], atomic=False), select=SELECT)
    assert result.codes() == ["SM307"]
    [finding] = result.last
    assert finding.severity.label == "warning"
    assert finding.location.sql == 'CREATE INDEX CONCURRENTLY "order_created_idx" ON "shop_order" ("created")'
    assert "the retry runs it again and it fails: index order_created_idx already exists" in finding.message
    assert finding.table == "shop_order" and finding.lock == "SHARE UPDATE EXCLUSIVE"
    code = finding.fix.code
    assert code.count("    atomic = False") == 2
    assert "from django.contrib.postgres.operations import AddIndexConcurrently" in code
    assert code.index("order_created_idx") < code.index("# migration 2") < code.index("order_note_idx")


def test_use_instead_one_concurrent_index_per_migration_passes():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL("SET lock_timeout = '2s'", migrations.RunSQL.noop), created_idx()],
            atomic=False,
        ),
        Mig([note_idx()], atomic=False),
        Mig([RemoveIndexConcurrently("order", "order_note_idx")], atomic=False),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_set_lock_timeout_is_repeated_in_every_split_migration():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL("SET lock_timeout = '2s'", migrations.RunSQL.noop), created_idx(), note_idx()],
            atomic=False,
        ),
        select=SELECT,
    )
    code = result.last[0].fix.code
    assert code.count("SET lock_timeout = '2s'") == 2
    assert "reverse_sql=migrations.RunSQL.noop" in code


def test_hand_written_concurrent_index_needs_if_not_exists_even_alone():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    'CREATE INDEX CONCURRENTLY "order_note_idx" ON shop_order (note)', migrations.RunSQL.noop
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    [finding] = result.last
    assert "leaves an INVALID index that keeps the name" in finding.message
    assert "CREATE INDEX CONCURRENTLY IF NOT EXISTS order_note_idx ON shop_order (note)" in finding.fix.code
    assert "reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS \"order_note_idx\"'" in finding.fix.code


def test_hand_written_robust_statements_pass():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "cust_name_uniq" ON shop_customer (name)',
                    'DROP INDEX CONCURRENTLY IF EXISTS "cust_name_uniq"',
                ),
                migrations.RunSQL(
                    'CREATE INDEX CONCURRENTLY IF NOT EXISTS "order_note_idx" ON shop_order (note)',
                    'DROP INDEX CONCURRENTLY IF EXISTS "order_note_idx"',
                ),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_drop_index_concurrently_without_if_exists_is_flagged():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL('DROP INDEX CONCURRENTLY "order_note_idx"', migrations.RunSQL.noop)],
            atomic=False,
        ),
        select=SELECT,
    )
    [finding] = result.last
    assert finding.message.startswith("DROP INDEX CONCURRENTLY without IF EXISTS")
    assert "DROP INDEX CONCURRENTLY IF EXISTS order_note_idx" in finding.fix.code


def test_add_field_before_a_data_step_cannot_be_retried():
    result = run(
        initial(),
        Mig(
            [
                migrations.AddField("customer", "points", models.IntegerField(null=True)),
                migrations.RunPython(fill, migrations.RunPython.noop),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    [finding] = result.last
    assert "it fails: column points already exists" in finding.message
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"


def test_the_same_operations_in_an_atomic_migration_pass():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "points", models.IntegerField(null=True)),
            migrations.RunPython(fill, migrations.RunPython.noop),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_index_recipe_through_separate_database_and_state_passes():
    # The second migration of create-index-non-concurrently's fix: one RunSQL per index.
    result = run(
        initial(),
        [migrations.AddField("customer", "region", models.CharField(max_length=30, null=True))],
        Mig(
            [
                migrations.SeparateDatabaseAndState(
                    database_operations=[
                        migrations.RunSQL(
                            'CREATE INDEX CONCURRENTLY IF NOT EXISTS "cust_region" ON "shop_customer" ("region")',
                            'DROP INDEX CONCURRENTLY IF EXISTS "cust_region"',
                        ),
                        migrations.RunSQL(
                            'CREATE INDEX CONCURRENTLY IF NOT EXISTS "cust_region_like" ON "shop_customer" '
                            '("region" varchar_pattern_ops)',
                            'DROP INDEX CONCURRENTLY IF EXISTS "cust_region_like"',
                        ),
                    ],
                    state_operations=[
                        migrations.AlterField(
                            "customer", "region", models.CharField(max_length=30, null=True, db_index=True)
                        )
                    ],
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []
