import django
from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently, ValidateConstraint
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM116",)


def sql(*texts):
    return [migrations.RunSQL(t, migrations.RunSQL.noop) for t in texts]


def add_email():
    return [
        migrations.AddField("customer", "email", models.CharField(max_length=200, null=True, db_index=True))
    ]


def test_docs_example_deferred_index_after_add_column_is_flagged():
    result = run(initial(), add_email(), select=SELECT)
    assert result.codes() == ["SM116", "SM116"]  # the index and its _like twin
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"
    assert finding.location.sql.startswith("CREATE INDEX")
    assert finding.message.startswith("'CREATE INDEX \"shop_customer_email_")
    assert (
        "(Add field email to customer) builds an index while the transaction still holds ACCESS EXCLUSIVE"
        in finding.message
    )
    assert 'taken by \'ALTER TABLE "shop_customer" ADD COLUMN "email"' in finding.message
    assert "reads included" in finding.message
    assert (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS" in finding.fix.code and "atomic = False" in finding.fix.code
    )


def test_use_instead_column_then_concurrent_index_passes():
    result = run(
        initial(),
        [migrations.AddField("customer", "email", models.CharField(max_length=200, null=True))],
        Mig(
            [AddIndexConcurrently("customer", models.Index(fields=["email"], name="customer_email_idx"))],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_use_instead_the_fix_migrations_pass():
    flagged = run(initial(), add_email(), select=SELECT)
    steps = fix_migrations(flagged.last[0].fix.code)
    assert run(initial(), *steps, select=SELECT).codes(all_migrations=True) == []


def test_django_not_null_backfill_update_is_flagged_once():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20, default="none"))],
        select=SELECT,
    )
    # SET DEFAULT, UPDATE, SET CONSTRAINTS, SET NOT NULL, DROP DEFAULT: only the UPDATE runs long
    # under the lock without taking it itself.
    assert result.codes() == ["SM116"]
    finding = result.last[0]
    assert finding.location.sql.startswith("UPDATE")
    assert (
        "changes rows while the transaction still holds ACCESS EXCLUSIVE on shop_customer" in finding.message
    )
    assert "AddConstraintNotValid" in finding.fix.code and "ValidateConstraint" in finding.fix.code


def test_instant_follow_ups_on_the_same_table_pass():
    # ADD COLUMN ... DEFAULT 0 NOT NULL, then DROP DEFAULT; and two AddFields on one table.
    result = run(
        initial(),
        [
            migrations.AddField("customer", "points", models.IntegerField(default=0)),
            migrations.AddField("customer", "level", models.IntegerField(null=True)),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_foreign_key_index_is_flagged_but_not_set_constraints():
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
    assert any("SET CONSTRAINTS" in s for s in result.sql())
    assert result.codes() == ["SM116"]
    assert result.last[0].location.sql.startswith("CREATE INDEX")


def test_new_lock_on_another_table_is_a_warning():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "nickname", models.CharField(max_length=20, null=True)),
            migrations.AddField("order", "memo", models.TextField(null=True)),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM116"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert (
        "must get ACCESS EXCLUSIVE on shop_order while the transaction holds ACCESS EXCLUSIVE on shop_customer"
        in finding.message
    )
    assert finding.table == "shop_customer"
    assert (
        "migration 2" in finding.fix.code and "AddField(model_name='order', name='memo'" in finding.fix.code
    )


def test_locks_taken_up_front_pass():
    result = run(
        initial(),
        sql(
            'LOCK TABLE "shop_customer", "shop_order" IN ACCESS EXCLUSIVE MODE',
            'ALTER TABLE "shop_customer" ADD COLUMN "a" integer NULL',
            'ALTER TABLE "shop_order" ADD COLUMN "b" integer NULL',
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_non_atomic_migration_passes():
    result = run(initial(), Mig(add_email(), atomic=False), select=SELECT)
    assert result.codes() == []


def test_runsql_update_after_ddl_is_flagged_and_split():
    result = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN z int; UPDATE shop_customer SET z = 1"),
        select=SELECT,
    )
    assert result.codes() == ["SM116"]
    fix = result.last[0].fix
    assert "'UPDATE shop_customer SET z = 1'" in fix.code
    assert "atomic = False" in fix.code and any("batch" in step for step in fix.steps)
    assert run(initial(), *fix_migrations(fix.code), select=SELECT).codes(all_migrations=True) == []


def test_validate_of_a_not_valid_constraint_is_left_to_sm107():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    check = models.CheckConstraint(**{keyword: models.Q(age__gte=0)}, name="customer_age_gte_0")
    result = run(
        initial(),
        [AddConstraintNotValid("customer", check), ValidateConstraint("customer", "customer_age_gte_0")],
        select=SELECT,
    )
    assert result.codes() == []


def test_pk_type_change_is_left_to_change_pk_type():
    legacy = [
        migrations.CreateModel("Customer", [("id", models.AutoField(primary_key=True))]),
        migrations.CreateModel(
            "Order",
            [
                ("id", models.AutoField(primary_key=True)),
                ("customer", models.ForeignKey("shop.Customer", models.CASCADE)),
            ],
        ),
    ]
    result = run(
        legacy,
        [migrations.AlterField("customer", "id", models.BigAutoField(primary_key=True))],
        select=SELECT,
    )
    assert result.codes() == []


def test_new_table_is_exempt():
    result = run(
        Mig(
            [
                *initial(),
                migrations.AddIndex("customer", models.Index(fields=["age"], name="customer_age_idx")),
            ]
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_bounded_update_after_ddl_passes():
    result = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN z int; UPDATE shop_customer SET z = 1 WHERE id = 7"),
        select=SELECT,
    )
    assert result.codes() == []
    ranged = run(
        initial(),
        sql(
            "ALTER TABLE shop_customer ADD COLUMN z int; UPDATE shop_customer SET z = 1 WHERE age >= 1 AND age < 9"
        ),
        select=SELECT,
    )
    assert ranged.codes() == []
    open_ended = run(
        initial(),
        sql("ALTER TABLE shop_customer ADD COLUMN z int; DELETE FROM shop_customer WHERE age > 9"),
        select=SELECT,
    )
    assert open_ended.codes() == ["SM116"]


def test_quick_statements_of_one_operation_pass():
    # One RunSQL that drops and re-adds a foreign key: written as one step on purpose.
    result = run(
        initial(),
        sql(
            'ALTER TABLE "shop_order" DROP CONSTRAINT "fk"; ALTER TABLE "shop_order" ADD CONSTRAINT "fk" '
            'FOREIGN KEY ("customer_id") REFERENCES "shop_customer" ("id") NOT VALID'
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_indexes_created_in_the_same_migration_are_exempt():
    result = run(
        Mig(
            [
                *initial(),
                migrations.AlterField("customer", "name", models.CharField(max_length=100, db_index=True)),
                migrations.AlterField("customer", "name", models.CharField(max_length=100)),
            ]
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_dropped_index_is_reported_as_its_table():
    # AlterField(db_index=False) on a ForeignKey: Django drops the FK, DROP INDEX, re-adds
    # the FK. locks_of names the index for DROP INDEX; the finding must name the table.
    big = models.Index(fields=["quantity", "note"], name="order_big_idx")
    result = run(
        initial(),
        [migrations.AddIndex("order", big)],
        [
            migrations.RemoveIndex("order", "order_big_idx"),
            migrations.AlterField(
                "order", "customer", models.ForeignKey("shop.Customer", models.CASCADE, db_index=False)
            ),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM116"]
    [finding] = result.last
    assert finding.table == "shop_customer"  # the FK's parent, locked by the dropped FK
    assert "holds ACCESS EXCLUSIVE on shop_customer, shop_order, taken by" in finding.message
    assert "order_big_idx," not in finding.message and "f638df20," not in finding.message
    assert "on shop_order_customer_id" not in finding.message


def test_index_of_an_unknown_table_is_not_named_as_a_table():
    result = run(
        initial(),
        sql(
            "DROP INDEX shop_legacy_idx",
            "ALTER TABLE shop_order ADD CONSTRAINT order_qty_pos CHECK (quantity > 0)",
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM116"]
    [finding] = result.last
    assert finding.table is None
    assert "holds ACCESS EXCLUSIVE on the table of index shop_legacy_idx" in finding.message


def test_drop_index_of_the_table_already_locked_passes():
    result = run(
        initial(),
        [migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))],
        [
            migrations.AddField("order", "flag", models.BooleanField(null=True)),
            migrations.RemoveIndex("order", "order_created_idx"),
        ],
        select=SELECT,
    )
    assert result.codes() == []
