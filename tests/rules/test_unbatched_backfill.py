import uuid

from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

from ._runpython import fill_points, fill_points_batched

SELECT = ("SM304",)


def give_tokens(apps, schema_editor):
    # The Django docs' pattern for unique values: one UUID per row, in one transaction.
    Customer = apps.get_model("shop", "Customer")
    for row in Customer.objects.all():
        row.code = uuid.uuid4().hex[:10]
        row.save(update_fields=["code"])


def wipe_orders(apps, schema_editor):
    apps.get_model("shop", "Order").objects.all().delete()


def rename_walk_ins(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(pk=1).update(name="Walk-in")
    Customer.objects.filter(code="x").update(code="walk-in")


def resave_every_order(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    for order in Order.objects.all():
        order.note = order.note.strip()
        order.save()


def bulk_fix(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    orders = list(Order.objects.all())
    Order.objects.bulk_update(orders, ["note"])


def bulk_fix_batched(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    orders = list(Order.objects.filter(pk__lte=100))
    Order.objects.bulk_update(orders, ["note"], batch_size=1000)


def add_points():
    return migrations.AddField("customer", "points", models.IntegerField(null=True))


def test_docs_example_whole_table_update_is_flagged():
    result = run(
        initial(),
        [add_points()],
        [migrations.RunPython(fill_points, migrations.RunPython.noop)],
        select=SELECT,
    )
    assert result.codes() == ["SM304"]
    [finding] = result.last
    assert finding.severity.label == "warning"
    assert finding.lock == "ROW EXCLUSIVE"
    assert finding.table == "shop_customer"
    assert finding.message.startswith(
        "RunPython(fill_points) updates every matching Customer row in one statement (line 3 of fill_points: "
        "`Customer.objects.filter(points__isnull=True).update(points=0)`)"
    )
    assert "until the migration's transaction commits" in finding.message
    code = finding.fix.code
    assert "atomic = False" in code
    assert "with transaction.atomic(using=db):" in code
    assert (
        "Customer.objects.using(db).filter(pk__in=ids).filter(points__isnull=True).update(points=0)" in code
    )
    assert "migrations.RunPython(fill_points_batched, migrations.RunPython.noop)" in code


def test_use_instead_batched_non_atomic_passes():
    result = run(
        initial(),
        [add_points()],
        Mig([migrations.RunPython(fill_points_batched, migrations.RunPython.noop)], atomic=False),
        select=SELECT,
    )
    assert result.codes() == []


def test_batches_inside_an_atomic_migration_commit_together():
    result = run(
        initial(),
        [add_points()],
        [migrations.RunPython(fill_points_batched, migrations.RunPython.noop)],
        select=SELECT,
    )
    [finding] = result.last
    assert "writes Customer rows in a loop" in finding.message
    assert "its writes all commit together" in finding.message
    assert "atomic = False" in finding.fix.code
    assert "def fill_points_batched(apps, schema_editor):" in finding.fix.code


def test_batches_in_runpython_atomic_true_commit_together():
    result = run(
        initial(),
        [add_points()],
        Mig(
            [migrations.RunPython(fill_points_batched, migrations.RunPython.noop, atomic=True)], atomic=False
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM304"]


def test_unbounded_update_in_a_non_atomic_migration_is_still_one_statement():
    result = run(
        initial(),
        [add_points()],
        Mig([migrations.RunPython(fill_points, migrations.RunPython.noop)], atomic=False),
        select=SELECT,
    )
    [finding] = result.last
    assert "until the statement ends" in finding.message


def test_delete_of_a_whole_table_is_flagged():
    result = run(initial(), [migrations.RunPython(wipe_orders, migrations.RunPython.noop)], select=SELECT)
    [finding] = result.last
    assert "deletes every matching Order row" in finding.message
    assert finding.table == "shop_order"
    assert "Order = apps.get_model('shop', 'Order')" in finding.fix.code
    assert "Order.objects.using(db).filter(pk__in=ids).all().delete()" in finding.fix.code


def test_targeted_updates_pass():
    result = run(initial(), [migrations.RunPython(rename_walk_ins, migrations.RunPython.noop)], select=SELECT)
    assert result.codes() == []


def test_row_by_row_loop_is_flagged_only_inside_a_transaction():
    atomic = run(
        initial(), [migrations.RunPython(resave_every_order, migrations.RunPython.noop)], select=SELECT
    )
    [finding] = atomic.last
    assert (
        "line 3 of resave_every_order: `for order in Order.objects.all(): ... order.save()`"
        in finding.message
    )
    autocommit = run(
        initial(),
        Mig([migrations.RunPython(resave_every_order, migrations.RunPython.noop)], atomic=False),
        select=SELECT,
    )
    assert autocommit.codes() == []


def test_bulk_update_without_batch_size_is_flagged():
    flagged = run(initial(), [migrations.RunPython(bulk_fix, migrations.RunPython.noop)], select=SELECT)
    [finding] = flagged.last
    assert "saves all the given Order row" in finding.message
    batched = run(
        initial(),
        Mig([migrations.RunPython(bulk_fix_batched, migrations.RunPython.noop)], atomic=False),
        select=SELECT,
    )
    assert batched.codes() == []


def test_runsql_update_without_batch_bound_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("UPDATE shop_customer SET age = 0 WHERE age IS NULL", migrations.RunSQL.noop)],
        select=SELECT,
    )
    [finding] = result.last
    assert finding.message.startswith("UPDATE on shop_customer changes every matching row in one statement")
    assert finding.lock == "ROW EXCLUSIVE" and finding.table == "shop_customer"
    assert (
        'UPDATE shop_customer SET age = 0 WHERE (age IS NULL) AND \\"id\\" = ANY(%s)' in finding.fix.code
        or 'UPDATE shop_customer SET age = 0 WHERE (age IS NULL) AND "id" = ANY(%s)' in finding.fix.code
    )


def test_runsql_batched_statements_pass():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "UPDATE shop_customer SET age = 0 WHERE id BETWEEN 1 AND 5000; "
                "UPDATE shop_customer SET age = 0 WHERE id >= 5001 AND id < 10001; "
                "DELETE FROM shop_order WHERE id IN (SELECT id FROM shop_order WHERE note = '' LIMIT 1000); "
                "UPDATE shop_customer SET age = 1 WHERE id = 7",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_update_of_a_table_created_in_the_migration_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel(
                "Tag", [("id", models.BigAutoField(primary_key=True)), ("n", models.IntegerField())]
            ),
            migrations.RunSQL("UPDATE shop_tag SET n = 0", migrations.RunSQL.noop),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_djangos_own_backfill_is_left_to_set_not_null():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20, default="none"))],
        select=SELECT,
    )
    assert result.codes() == []


def test_lambda_without_writes_passes():
    result = run(
        initial(), [migrations.RunPython(lambda apps, editor: None, migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == []


def test_fix_copies_the_modules_the_users_code_needs():
    op = migrations.RunPython(give_tokens, migrations.RunPython.noop)
    [finding] = run(initial(), [op], select=SELECT).last
    assert "import uuid" in finding.fix.code
    assert "uuid.uuid4()" in finding.fix.code
