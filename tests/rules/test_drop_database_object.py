from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM210",)


def post_deploy(*operations: object) -> Mig:
    return Mig(list(operations), attrs={"safe_migrations_phase": "post-deploy"})


def test_docs_example_drop_view_is_flagged():
    result = run(initial(), [migrations.RunSQL('DROP VIEW "shop_order_summary"')], select=SELECT)
    assert result.codes() == ["SM210"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order_summary"
    assert "Dropping view shop_order_summary breaks the code still running" in finding.message
    code = finding.fix.code
    assert 'safe_migrations_phase = "post-deploy"' in code
    assert "migrations.RunSQL('DROP VIEW IF EXISTS shop_order_summary'" in code
    assert "lock_timeout" in code
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_post_deploy_drop_passes():
    result = run(
        initial(),
        post_deploy(
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.RunSQL('DROP VIEW IF EXISTS "shop_order_summary"', migrations.RunSQL.noop),
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_drop_database_is_an_error_even_post_deploy():
    result = run(initial(), post_deploy(migrations.RunSQL("DROP DATABASE legacy")), select=SELECT)
    assert result.codes() == ["SM210"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert "cannot run inside a transaction block" in finding.message
    assert finding.fix.title == "Drop databases outside migrations"
    compile(result.last[0].fix.code, "fix", "exec")


def test_drop_schema_cascade_is_an_error():
    result = run(initial(), post_deploy(migrations.RunSQL("DROP SCHEMA reporting CASCADE")), select=SELECT)
    assert result.codes() == ["SM210"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "CASCADE drops all of them" in finding.message
    assert "DROP SCHEMA IF EXISTS reporting'" in finding.fix.code  # RESTRICT, no CASCADE
    compile(result.last[0].fix.code, "fix", "exec")


def test_drop_schema_restrict_is_an_error_before_the_deploy_and_passes_after():
    result = run(initial(), [migrations.RunSQL("DROP SCHEMA reporting")], select=SELECT)
    assert result.codes() == ["SM210"]
    assert result.last[0].severity.label == "error"
    result = run(initial(), post_deploy(migrations.RunSQL("DROP SCHEMA IF EXISTS reporting")), select=SELECT)
    assert result.codes() == []


def test_drop_owned_is_an_error():
    result = run(initial(), [migrations.RunSQL("DROP OWNED BY reporter")], select=SELECT)
    assert [f.severity.label for f in result.last] == ["error"]


def test_drop_type_cascade_is_an_error_because_it_drops_columns():
    result = run(initial(), [migrations.RunSQL("DROP TYPE mood CASCADE")], select=SELECT)
    assert result.codes() == ["SM210"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert "drops every column made of it" in finding.message
    assert "DROP TYPE IF EXISTS mood'" in finding.fix.code


def test_drop_type_restrict_is_a_warning():
    result = run(initial(), [migrations.RunSQL("DROP TYPE mood")], select=SELECT)
    assert [f.severity.label for f in result.last] == ["warning"]


def test_other_objects_are_warnings():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "DROP FUNCTION total(int); DROP SEQUENCE invoice_no; DROP EXTENSION hstore; "
                "DROP MATERIALIZED VIEW sales; DROP DOMAIN money_amount; DROP POLICY tenant ON shop_order"
            )
        ],
        select=SELECT,
    )
    assert [f.severity.label for f in result.last] == ["warning"] * 6
    policy = result.last[-1]
    assert policy.table == "shop_order" and "policy tenant on shop_order" in policy.message


def test_drop_trigger_changes_writes():
    result = run(initial(), [migrations.RunSQL('DROP TRIGGER audit ON "shop_order"')], select=SELECT)
    assert result.codes() == ["SM210"]
    finding = result.last[0]
    assert finding.table == "shop_order"
    assert "changes what every INSERT/UPDATE on shop_order does" in finding.message


def test_objects_created_in_the_same_migration_pass():
    result = run(
        initial(),
        [
            migrations.RunSQL("CREATE VIEW tmp_v AS SELECT 1"),
            migrations.RunSQL("CREATE FUNCTION tmp_f() RETURNS int AS 'SELECT 1' LANGUAGE sql"),
            migrations.RunSQL("CREATE TYPE tmp_t AS ENUM ('a')"),
            migrations.RunSQL("DROP VIEW tmp_v; DROP FUNCTION tmp_f(); DROP TYPE tmp_t"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_sync_trigger_cleanup_of_a_column_swap_passes():
    # change-column-type recipe: swap the columns and drop the sync trigger and its function
    result = run(
        initial(),
        [migrations.AddField("order", "quantity_new", models.BigIntegerField(null=True))],
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'DROP TRIGGER IF EXISTS "shop_order_quantity_sync" ON "shop_order"; '
                        'DROP FUNCTION IF EXISTS "shop_order_quantity_sync_fn"(); '
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


def test_tables_and_indexes_belong_to_other_rules():
    result = run(
        initial(),
        [migrations.RunSQL('DROP TABLE "shop_order"; DROP INDEX "shop_order_customer_id_idx"')],
        select=SELECT,
    )
    assert result.codes() == []
