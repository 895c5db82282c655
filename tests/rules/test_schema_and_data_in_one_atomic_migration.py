import django
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

from ._runpython import fill_points, fill_points_batched

SELECT = ("SM303",)


def seed_customer(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.create(name="walk-in")


def touch_orders(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    Order.objects.create(customer_id=1, quantity=1)


def rename_status(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(status="a").update(status="b")


def close_accounts(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(status="gone").delete()


def mark_one(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(pk=1).update(status="b")


def add_points():
    return migrations.AddField("customer", "points", models.IntegerField(null=True))


def test_docs_example_addfield_and_runpython_is_flagged():
    result = run(
        initial(), [add_points(), migrations.RunPython(fill_points, migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == ["SM303"]
    [finding] = result.last
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_customer"
    assert finding.message.startswith(
        "RunPython(fill_points) runs while the same transaction holds ACCESS EXCLUSIVE on shop_customer"
    )
    assert 'ADD COLUMN "points"' in finding.message
    code = finding.fix.code
    assert "migration 1 (atomic): the schema change" in code
    assert "atomic = False" in code
    assert "def fill_points_batched(apps, schema_editor):" in code
    assert (
        "Customer.objects.using(db).filter(pk__in=ids).filter(points__isnull=True).update(points=0)" in code
    )
    assert code.index("AddField") < code.index("atomic = False")


def test_use_instead_three_migrations_pass():
    result = run(
        initial(),
        [add_points()],
        Mig([migrations.RunPython(fill_points_batched, migrations.RunPython.noop)], atomic=False),
        [migrations.AlterField("customer", "points", models.IntegerField(null=True, db_default=0))]
        if django.VERSION >= (5, 0)
        else [migrations.AlterField("customer", "points", models.IntegerField(null=True, default=0))],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_djangos_inline_backfill_is_flagged_with_a_batched_fix():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20, default="none"))],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.message.startswith('Django\'s backfill `UPDATE "shop_customer" SET "phone" = \'none\'')
    assert "(from AlterField with a default)" in finding.message
    assert finding.lock == "ACCESS EXCLUSIVE"
    code = finding.fix.code
    assert ".filter(pk__in=ids, phone__isnull=True).update(phone='none')" in code
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    assert f"models.CheckConstraint({keyword}=models.Q(phone__isnull=False)" in code


def test_runsql_ddl_then_update_is_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN z int; UPDATE shop_customer SET z = 1",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.message.startswith("UPDATE on shop_customer runs while the same transaction holds")
    assert finding.location.sql == "UPDATE shop_customer SET z = 1"
    assert 'UPDATE shop_customer SET z = 1 WHERE "id" = ANY(%s)' in finding.fix.code


def test_bounded_update_after_ddl_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN z int; UPDATE shop_customer SET z = 1 WHERE id = 7",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_share_lock_blocks_writes_for_the_data_step():
    result = run(
        initial(),
        [
            migrations.AddIndex("customer", models.Index(fields=["name"], name="cust_name_idx")),
            migrations.RunPython(fill_points, migrations.RunPython.noop),
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.lock == "SHARE"
    assert "every write to shop_customer waits" in finding.message


def test_light_runpython_after_ddl_passes():
    result = run(
        initial(),
        [add_points(), migrations.RunPython(seed_customer, migrations.RunPython.noop)],
        select=SELECT,
    )
    assert result.codes() == []


def test_noop_runpython_passes():
    result = run(
        initial(),
        [add_points(), migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)],
        select=SELECT,
    )
    assert result.codes() == []


def test_writes_then_ddl_on_the_same_table_is_an_error():
    # RULES.md: any mix of data and DDL in one atomic migration is an error, whichever comes first.
    result = run(
        initial(),
        [
            migrations.RunPython(touch_orders, migrations.RunPython.noop),
            migrations.AddIndex("order", models.Index(fields=["note"], name="order_note_idx")),
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.severity.label == "error"
    assert "pending trigger events' if those rows carry a foreign key" in finding.message
    assert finding.table == "shop_order"


def test_writes_then_ddl_is_an_error_when_the_foreign_key_is_visible():
    result = run(
        initial(),
        [
            migrations.AddField(
                "order",
                "referrer",
                models.ForeignKey("shop.Customer", models.SET_NULL, null=True, related_name="+"),
            ),
            migrations.RunPython(touch_orders, migrations.RunPython.noop),
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.severity.label == "error"
    assert "shop_order gets a foreign key earlier in this migration" in finding.message
    assert 'CREATE INDEX "shop_order_referrer_id' in finding.message  # Django's deferred index


def test_writes_then_ddl_on_another_table_passes():
    result = run(
        initial(),
        [
            migrations.RunPython(touch_orders, migrations.RunPython.noop),
            migrations.AddIndex("customer", models.Index(fields=["name"], name="cust_name_idx")),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_new_table_is_exempt():
    result = run(
        initial(),
        [
            migrations.CreateModel(
                "Tag",
                [
                    ("id", models.BigAutoField(primary_key=True)),
                    ("customer", models.ForeignKey("shop.Customer", models.CASCADE)),
                ],
            ),
            migrations.RunPython(fill_points, migrations.RunPython.noop),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_non_atomic_migration_runs_each_step_on_its_own():
    result = run(
        initial(),
        Mig(
            [add_points(), migrations.RunPython(fill_points, migrations.RunPython.noop, atomic=True)],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_the_lock_on_the_table_the_step_writes_is_named_first():
    result = run(
        initial(),
        [
            migrations.AddField("order", "gift", models.BooleanField(null=True)),
            add_points(),
            migrations.RunPython(fill_points, migrations.RunPython.noop),
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.table == "shop_customer"
    assert "ACCESS EXCLUSIVE on shop_customer" in finding.message


def test_lambda_is_read_from_its_line():
    quiet = run(
        initial(),
        [add_points(), migrations.RunPython(lambda apps, editor: None, migrations.RunPython.noop)],
        select=SELECT,
    )
    assert quiet.codes() == []
    busy = run(
        initial(),
        [
            add_points(),
            migrations.RunPython(
                lambda apps, editor: apps.get_model("shop", "Customer").objects.update(points=0),
                migrations.RunPython.noop,
            ),
        ],
        select=SELECT,
    )
    assert busy.codes() == ["SM303"]
    assert busy.last[0].message.startswith("RunPython(<lambda>) runs while")


def fill_age(apps, schema_editor):
    apps.get_model("shop", "Customer").objects.filter(age__isnull=True).update(age=1)


def test_inline_backfill_fix_does_not_copy_the_migrations_own_runpython():
    ops = [
        migrations.AddField("customer", "rank", models.IntegerField(null=True)),
        migrations.RunPython(fill_age, migrations.RunPython.noop),
        migrations.AlterField("customer", "rank", models.IntegerField(default=1)),
    ]
    found = [f for f in run(initial(), ops, select=SELECT).last if f.location.operation_index == 2]
    [inline] = found
    assert "RunPython(code=fill_age" not in inline.fix.code
    assert "migrations.AddField(" in inline.fix.code


def with_status():
    return [
        *initial(),
        migrations.AddField("customer", "status", models.CharField(max_length=1, default="a")),
    ]


def test_runpython_update_filtered_on_a_non_key_field_is_flagged_like_the_sql():
    flag = migrations.AddField("customer", "flag", models.BooleanField(null=True))
    as_sql = migrations.RunSQL(
        "UPDATE shop_customer SET status = 'b' WHERE status = 'a'", migrations.RunSQL.noop
    )
    sql = run(with_status(), [flag, as_sql], select=SELECT)
    assert sql.codes() == ["SM303"]
    python = run(
        with_status(), [flag, migrations.RunPython(rename_status, migrations.RunPython.noop)], select=SELECT
    )
    assert python.codes() == ["SM303"]
    [finding] = python.last
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"
    assert finding.message.startswith("RunPython(rename_status) runs while the same transaction holds")
    assert "atomic = False" in finding.fix.code
    deleting = run(
        with_status(), [flag, migrations.RunPython(close_accounts, migrations.RunPython.noop)], select=SELECT
    )
    assert deleting.codes() == ["SM303"]


def test_runpython_update_by_primary_key_after_ddl_passes():
    flag = migrations.AddField("customer", "flag", models.BooleanField(null=True))
    result = run(
        with_status(), [flag, migrations.RunPython(mark_one, migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == []
