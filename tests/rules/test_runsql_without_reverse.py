from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM302",)


def test_docs_example_do_block_without_reverse_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("DO $$ BEGIN ALTER TABLE shop_customer ADD COLUMN nickname text; END $$")],
        select=SELECT,
    )
    # Irreversible, opaque, and (the block's statement read like any other) a column the
    # model state does not know.
    assert result.codes() == ["SM302", "SM302", "SM302"]
    irreversible = next(f for f in result.last if "IrreversibleError" in f.message)
    opaque = next(f for f in result.last if f.message.startswith("A DO block"))
    drift = next(f for f in result.last if f not in (irreversible, opaque))
    assert "reverse_sql=" in irreversible.fix.code
    assert "state_operations" in drift.fix.code
    assert opaque.message.startswith("A DO block hides DDL from review")
    assert "ALTER TABLE shop_customer ADD COLUMN nickname text (ACCESS EXCLUSIVE on shop_customer)" in (
        opaque.message
    )
    assert opaque.lock == "ACCESS EXCLUSIVE"
    assert opaque.table == "shop_customer"
    assert "migrations.RunSQL('ALTER TABLE shop_customer ADD COLUMN nickname text'" in opaque.fix.code
    assert (irreversible.severity.label, opaque.severity.label, drift.severity.label) == (
        "warning",
        "warning",
        "info",
    )


def test_use_instead_plain_sql_with_reverse_and_state_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN IF NOT EXISTS nickname text",
                reverse_sql="ALTER TABLE shop_customer DROP COLUMN IF EXISTS nickname",
                state_operations=[migrations.AddField("customer", "nickname", models.TextField(null=True))],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_generated_reverse_undoes_the_statements_in_reverse_order():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "SET LOCAL lock_timeout = '2s'; "
                'CREATE INDEX "cust_name_idx" ON "shop_customer" ("name"); '
                'ALTER TABLE "shop_customer" ADD CONSTRAINT "age_pos" CHECK ("age" >= 0) NOT VALID'
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    code = finding.fix.code
    drop_constraint = code.index('ALTER TABLE "shop_customer" DROP CONSTRAINT IF EXISTS "age_pos"')
    drop_index = code.index('DROP INDEX IF EXISTS "cust_name_idx"')
    assert drop_constraint < drop_index
    assert "TODO" not in code
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"


def test_unknown_reverse_is_left_as_todo():
    result = run(initial(), [migrations.RunSQL("UPDATE shop_customer SET age = 0")], select=SELECT)
    [finding] = result.last
    assert "# TODO: undo UPDATE shop_customer SET age = 0" in finding.fix.code
    assert any("marked TODO" in s for s in finding.fix.steps)


def test_noop_reverse_passes():
    result = run(
        initial(), [migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop)], select=SELECT
    )
    assert result.codes() == []


def test_column_added_behind_djangos_back_is_flagged_with_state_operations():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN points integer",
                reverse_sql="ALTER TABLE shop_customer DROP COLUMN points",
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert "adds shop_customer.points, which Django's migration state does not know" in finding.message
    assert finding.severity.label == "info"
    assert finding.table == "shop_customer"
    assert "state_operations=[" in finding.fix.code
    assert "migrations.AddField('customer', 'points', models.IntegerField(null=True))" in finding.fix.code


def test_column_added_inside_separate_database_and_state_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        "ALTER TABLE shop_customer ADD COLUMN points integer",
                        reverse_sql="ALTER TABLE shop_customer DROP COLUMN points",
                    )
                ],
                state_operations=[migrations.AddField("customer", "points", models.IntegerField(null=True))],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_shadow_column_kept_by_a_trigger_passes():
    # The first migration of the change-type recipes: a column outside the model, synced by a trigger.
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" ADD COLUMN "quantity_new" bigint NULL',
                reverse_sql='ALTER TABLE "shop_order" DROP COLUMN IF EXISTS "quantity_new"',
            ),
            migrations.RunSQL(
                'CREATE FUNCTION "sync_q"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
                'NEW."quantity_new" := NEW."quantity"; RETURN NEW; END $$; '
                'CREATE TRIGGER "sync_q" BEFORE INSERT OR UPDATE ON "shop_order" FOR EACH ROW '
                'EXECUTE FUNCTION "sync_q"()',
                reverse_sql='DROP TRIGGER IF EXISTS "sync_q" ON "shop_order"; DROP FUNCTION IF EXISTS "sync_q"()',
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_column_on_a_table_django_does_not_manage_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "CREATE TABLE audit_log (id bigint); ALTER TABLE audit_log ADD COLUMN note text",
                reverse_sql="DROP TABLE audit_log",
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_second_release_of_a_two_step_drop_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
            )
        ],
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_customer" DROP COLUMN IF EXISTS "fax"',
                reverse_sql='ALTER TABLE "shop_customer" ADD COLUMN IF NOT EXISTS "fax" varchar(20) NULL',
            )
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_function_with_unknown_body_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("SELECT create_hypertable('shop_order', 'created')", migrations.RunSQL.noop)],
        select=SELECT,
    )
    [finding] = result.last
    assert "create_hypertable(), whose body is not in this migration" in finding.message
    assert "-- safe_migrations: ignore SM302" in finding.fix.code


def test_builtin_functions_pass():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "SELECT setval(pg_get_serial_sequence('shop_order', 'id'), coalesce(max(id), 1)) "
                "FROM shop_order; SELECT pg_catalog.set_config('lock_timeout', '2s', true)",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_function_created_in_the_migration_is_read():
    ddl = (
        "CREATE FUNCTION add_col() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN "
        "ALTER TABLE shop_order ADD COLUMN shipped boolean; END $f$; SELECT add_col()"
    )
    dml = (
        "CREATE FUNCTION fix_notes() RETURNS void LANGUAGE sql AS $f$ "
        "UPDATE shop_order SET note = '' WHERE note IS NULL $f$; SELECT fix_notes()"
    )
    flagged = run(initial(), [migrations.RunSQL(ddl, migrations.RunSQL.noop)], select=SELECT)
    [finding] = flagged.last
    assert finding.message.startswith("add_col() runs DDL the other rules do not check")
    assert finding.table == "shop_order" and finding.lock == "ACCESS EXCLUSIVE"
    clean = run(initial(), [migrations.RunSQL(dml, migrations.RunSQL.noop)], select=SELECT)
    assert clean.codes() == []


def test_do_block_with_only_visible_dml_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "DO $$ BEGIN UPDATE shop_customer SET age = 0 WHERE id = 1; END $$", migrations.RunSQL.noop
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_dynamic_sql_in_do_block_is_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "DO $$ BEGIN EXECUTE 'ALTER TABLE ' || 'shop_order' || ' ADD COLUMN x int'; END $$",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert "builds SQL at run time with EXECUTE" in finding.message
    assert any("Dynamic SQL" in s for s in finding.fix.steps)


def test_call_of_unknown_procedure_is_flagged():
    result = run(
        initial(), [migrations.RunSQL("CALL archive_orders(2020)", migrations.RunSQL.noop)], select=SELECT
    )
    [finding] = result.last
    assert finding.message.startswith("CALL runs archive_orders()")


def test_django_operations_are_not_checked():
    result = run(
        initial(), [migrations.AddField("customer", "points", models.IntegerField(null=True))], select=SELECT
    )
    assert result.codes() == []
