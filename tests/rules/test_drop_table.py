from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM202",)


def tags() -> list[object]:
    return [
        migrations.CreateModel("Tag", [("id", models.BigAutoField(primary_key=True))]),
        migrations.AddField("customer", "tags", models.ManyToManyField("shop.Tag")),
    ]


def test_docs_example_delete_model_is_flagged():
    result = run(initial(), [migrations.DeleteModel("Order")], select=SELECT)
    assert result.sql() == ['DROP TABLE "shop_order" CASCADE;']
    assert result.codes() == ["SM202"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_order"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "relation does not exist" in finding.message
    assert "every table it references with a foreign key" in finding.message
    assert "CASCADE silently drops" in finding.message
    fix = finding.fix
    assert "state_operations=[\n" in fix.code and "migrations.DeleteModel(name='Order')" in fix.code
    assert "database_operations=[]" in fix.code
    assert "migrations.RunSQL('DROP TABLE IF EXISTS \"shop_order\"'" in fix.code
    assert 'safe_migrations_phase = "post-deploy"' in fix.code
    assert "lock_timeout" in fix.code
    assert any("db_constraint=False" in step for step in fix.steps)
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_state_first_then_drop_passes():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.DeleteModel("Order")], database_operations=[]
            )
        ],
        Mig(
            [
                migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
                migrations.RunSQL('DROP TABLE IF EXISTS "shop_order"', migrations.RunSQL.noop),
            ],
            attrs={"safe_migrations_phase": "post-deploy"},
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []
    assert result.sql()[-1].startswith('DROP TABLE IF EXISTS "shop_order"')  # the drop was linted


def test_runsql_dropping_a_table_the_state_still_has_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL('DROP TABLE "shop_order"', migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM202"]
    assert "CASCADE" not in result.last[0].message
    assert "DeleteModel(name=...)" in result.last[0].fix.code


def test_schema_qualified_runsql_drop_is_matched_to_the_state():
    result = run(
        initial(),
        [migrations.RunSQL("DROP TABLE IF EXISTS public.shop_order", migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM202"]
    assert result.last[0].table == "public.shop_order"


def test_runsql_with_its_own_delete_model_state_operation_is_flagged():
    # The collector records the state after the RunSQL's state_operations: the model is gone
    # there, but it existed until this very operation.
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'DROP TABLE "shop_order"',
                migrations.RunSQL.noop,
                state_operations=[migrations.DeleteModel("Order")],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM202"]
    assert "migrations.DeleteModel(name='Order')" in result.last[0].fix.code


def test_database_and_state_split_in_one_migration_is_flagged():
    result = run(
        initial(),
        [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.DeleteModel("Order")],
                database_operations=[migrations.RunSQL('DROP TABLE "shop_order"')],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM202"]


def test_remove_many_to_many_field_drops_its_table():
    result = run(initial(), tags(), [migrations.RemoveField("customer", "tags")], select=SELECT)
    assert result.codes() == ["SM202"]
    finding = result.last[0]
    assert finding.table == "shop_customer_tags"
    assert "many-to-many table shop_customer_tags" in finding.message
    assert "migrations.RemoveField(model_name='customer', name='tags')" in finding.fix.code
    assert not any("db_constraint" in step for step in finding.fix.steps)


def test_delete_model_with_many_to_many_flags_both_tables():
    result = run(
        initial(),
        tags(),
        [migrations.RemoveField("customer", "tags"), migrations.DeleteModel("Tag")],
        select=SELECT,
    )
    assert [f.table for f in result.last] == ["shop_customer_tags", "shop_tag"]


def test_table_created_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel("Draft", [("id", models.BigAutoField(primary_key=True))]),
            migrations.DeleteModel("Draft"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_table_unknown_to_the_state_passes():
    result = run(initial(), [migrations.RunSQL('DROP TABLE IF EXISTS "legacy_import"')], select=SELECT)
    assert result.codes() == []


def test_unmanaged_model_emits_no_sql_and_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel(
                "Report", [("id", models.BigAutoField(primary_key=True))], options={"managed": False}
            )
        ],
        [migrations.DeleteModel("Report")],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_fixes_for_hand_written_drops_are_valid_python():
    result = run(
        initial(),
        [migrations.RunSQL('DROP TABLE "shop_order"; DROP TABLE public.shop_customer CASCADE')],
        select=SELECT,
    )
    assert result.codes() == ["SM202", "SM202"]
    for finding in result.last:
        compile(finding.fix.code, "fix", "exec")
    assert 'DROP TABLE IF EXISTS "public"."shop_customer"' in result.last[1].fix.code


def test_runsql_dropping_an_auto_created_many_to_many_table_in_use_is_flagged():
    tags = [
        migrations.CreateModel("Tag", [("id", models.BigAutoField(primary_key=True))]),
        migrations.AddField("order", "tags", models.ManyToManyField("shop.Tag")),
    ]
    drop = migrations.RunSQL('DROP TABLE "shop_order_tags"', migrations.RunSQL.noop)
    assert "SM202" in run(initial(), tags, [drop], select=("SM202",)).codes()
    # Once a release removed the field from the state, dropping the table is the contract step.
    gone = migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField("order", "tags")])
    assert "SM202" not in run(initial(), tags, [gone], [drop], select=("SM202",)).codes()
