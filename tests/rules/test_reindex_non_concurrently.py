from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM115",)


def test_docs_example_reindex_table_is_flagged():
    result = run(
        initial(), [migrations.RunSQL('REINDEX TABLE "shop_order"', migrations.RunSQL.noop)], select=SELECT
    )
    assert result.codes() == ["SM115"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "SHARE"
    assert finding.table == "shop_order"
    assert "every INSERT, UPDATE and DELETE waits" in finding.message and "reads stall" in finding.message
    code = finding.fix.code
    assert "atomic = False" in code
    assert "'REINDEX TABLE CONCURRENTLY shop_order', migrations.RunSQL.noop" in code


def test_use_instead_reindex_concurrently_in_non_atomic_migration_passes():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL('REINDEX TABLE CONCURRENTLY "shop_order"', migrations.RunSQL.noop)],
            atomic=False,
        ),
        select=("SM115", "SM103"),
    )
    assert result.codes() == []


def test_before_postgres_12_the_fix_rebuilds_by_hand():
    result = run(
        initial(),
        [migrations.RunSQL('REINDEX INDEX "shop_order_customer_id_idx"')],
        select=SELECT,
        pg_version=11,
    )
    assert result.codes() == ["SM115"]
    fix = result.last[0].fix
    assert "CONCURRENTLY" not in fix.title
    assert "PostgreSQL 11 has no REINDEX CONCURRENTLY" in fix.steps[0]
    assert 'CREATE INDEX CONCURRENTLY "shop_order_customer_id_idx_new"' in fix.code
    assert 'ALTER INDEX "shop_order_customer_id_idx_new" RENAME TO "shop_order_customer_id_idx"' in fix.code
    assert "REINDEX" not in fix.code


def test_postgres_14_fix_warns_about_minor_releases_before_14_4():
    result = run(initial(), [migrations.RunSQL('REINDEX TABLE "shop_order"')], select=SELECT, pg_version=14)
    assert any("14.4" in step for step in result.last[0].fix.steps)
    result = run(initial(), [migrations.RunSQL('REINDEX TABLE "shop_order"')], select=SELECT, pg_version=15)
    assert not any("14.4" in step for step in result.last[0].fix.steps)


def test_reindex_index_created_earlier_in_the_migration_passes():
    result = run(
        initial(),
        [
            migrations.AddIndex("customer", models.Index(fields=["age"], name="cust_age_idx")),
            migrations.RunSQL('REINDEX INDEX "cust_age_idx"'),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_reindex_of_an_existing_index_is_flagged():
    result = run(
        initial(),
        [migrations.AddIndex("customer", models.Index(fields=["age"], name="cust_age_idx"))],
        [migrations.RunSQL('REINDEX (VERBOSE) INDEX "cust_age_idx"')],
        select=SELECT,
    )
    assert result.codes() == ["SM115"]
    finding = result.last[0]
    assert finding.table == "cust_age_idx"  # the table of an index is unknown to hand-written SQL
    assert "'REINDEX (VERBOSE) INDEX CONCURRENTLY cust_age_idx'" in finding.fix.code


def test_reindex_table_created_in_the_same_migration_passes():
    result = run([*initial(), migrations.RunSQL('REINDEX TABLE "shop_order"')], select=SELECT)
    assert result.codes() == []


def test_reindex_schema_in_a_transaction_is_refused_too():
    result = run(initial(), [migrations.RunSQL("REINDEX SCHEMA public")], select=SELECT)
    assert result.codes() == ["SM115"]
    assert "refuses REINDEX SCHEMA inside a transaction block" in result.last[0].message
    assert "'REINDEX SCHEMA CONCURRENTLY public'" in result.last[0].fix.code
    result = run(initial(), Mig([migrations.RunSQL("REINDEX SCHEMA public")], atomic=False), select=SELECT)
    assert "transaction block" not in result.last[0].message


def test_reindex_system_has_no_concurrent_form():
    result = run(initial(), Mig([migrations.RunSQL("REINDEX SYSTEM")], atomic=False), select=SELECT)
    assert result.codes() == ["SM115"]
    fix = result.last[0].fix
    assert fix.code == "" and "maintenance window" in fix.title


def test_reindex_concurrently_before_postgresql_12_fails_the_deploy():
    import ast

    reindex = migrations.RunSQL('REINDEX INDEX CONCURRENTLY "shop_order_customer_id_idx"')
    old = run(initial(), Mig([reindex], atomic=False), select=("SM115",), pg_version=11)
    [finding] = old.last
    assert finding.severity.label == "error" and "needs PostgreSQL 12" in finding.message
    ast.parse(finding.fix.code)
    assert run(initial(), Mig([reindex], atomic=False), select=("SM115",), pg_version=12).codes() == []
