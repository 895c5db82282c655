import uuid

import django
import pytest
from django.db import migrations, models
from django.utils import timezone

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM206",)


def test_docs_example_unique_uuid_default_is_an_error():
    result = run(
        initial(),
        [migrations.AddField("customer", "uid", models.UUIDField(default=uuid.uuid4, unique=True))],
        select=SELECT,
    )
    assert "::uuid NOT NULL UNIQUE" in result.sql()[0]  # one literal for every row
    assert result.codes() == ["SM206"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.table == "shop_customer"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "calls uuid.uuid4 once" in finding.message
    assert "unique index then fails on the duplicates" in finding.message
    code = finding.fix.code
    assert "field=models.UUIDField(null=True))" in code
    assert (
        "migrations.AlterField(model_name='customer', name='uid', field=models.UUIDField(default=uuid.uuid4, null=True))"
        in code
    )
    assert "row.uid = uuid.uuid4()" in code and "bulk_update(rows, ['uid'], batch_size=1000)" in code
    assert "apps.get_model('shop', 'Customer')" in code
    assert 'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "shop_customer_uid_uniq"' in code
    assert "UNIQUE USING INDEX" in code
    assert any("set-not-null" in step for step in finding.fix.steps)
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_nullable_then_state_default_then_backfill_passes():
    def backfill(apps, schema_editor):  # pragma: no cover - never executed offline
        pass

    result = run(
        initial(),
        [
            migrations.AddField("customer", "uid", models.UUIDField(null=True)),
            migrations.AlterField("customer", "uid", models.UUIDField(null=True, default=uuid.uuid4)),
        ],
        Mig([migrations.RunPython(backfill, migrations.RunPython.noop)], atomic=False),
        Mig(
            [
                migrations.RunSQL(
                    'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "shop_customer_uid_uniq" '
                    'ON "shop_customer" ("uid")'
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.collected[1].statements[-1].sql.endswith("NULL;")  # no DEFAULT literal
    assert result.codes(all_migrations=True) == []


def test_non_unique_uuid_default_is_a_warning():
    result = run(
        initial(),
        [migrations.AddField("customer", "uid", models.UUIDField(default=uuid.uuid4, null=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM206"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert "share one identical value" in finding.message
    assert "UNIQUE" not in finding.fix.code
    assert not any("set-not-null" in step for step in finding.fix.steps)  # already nullable


def test_timestamp_default_warns_about_the_migration_time():
    result = run(
        initial(),
        [migrations.AddField("customer", "joined", models.DateTimeField(default=timezone.now))],
        select=SELECT,
    )
    assert result.codes() == ["SM206"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert "the time the migration ran" in finding.message
    if django.VERSION >= (5, 0):
        assert "db_default=models.functions.Now()" in finding.fix.code
    else:
        assert "models.DateTimeField(null=True))" in finding.fix.code
        assert "backfill" not in finding.fix.code  # a per-row now() is no truer than one value
    compile(result.last[0].fix.code, "fix", "exec")


@pytest.mark.skipif(django.VERSION < (5, 0), reason="db_default arrived in Django 5.0")
def test_use_instead_db_default_now_passes():
    from django.db.models.functions import Now

    result = run(
        initial(),
        [migrations.AddField("customer", "joined", models.DateTimeField(db_default=Now()))],
        select=SELECT,
    )
    assert "STATEMENT_TIMESTAMP()" in result.sql()[0]
    assert result.codes() == []


def test_auto_now_add_is_flagged():
    result = run(
        initial(),
        [migrations.AddField("customer", "created", models.DateTimeField(auto_now_add=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM206"]
    assert "evaluates auto_now_add=True once" in result.last[0].message


def test_date_auto_now_fix_leaves_old_rows_null():
    result = run(
        initial(),
        [migrations.AddField("customer", "seen", models.DateField(auto_now=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM206"]
    fix = result.last[0].fix
    assert "models.DateField(null=True))" in fix.code
    assert "models.DateField(auto_now=True, null=True)" in fix.code
    assert fix.title == "Add the column nullable; only new rows get the default"
    compile(result.last[0].fix.code, "fix", "exec")


def test_constant_default_is_not_this_rule():
    result = run(
        initial(), [migrations.AddField("customer", "points", models.IntegerField(default=0))], select=SELECT
    )
    assert result.codes() == []


def test_callable_default_on_a_new_table_passes():
    result = run(
        initial(),
        [
            migrations.CreateModel("Coupon", [("id", models.BigAutoField(primary_key=True))]),
            migrations.AddField("coupon", "uid", models.UUIDField(default=uuid.uuid4, unique=True)),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_alter_field_adding_a_callable_default_emits_no_sql_and_passes():
    result = run(
        initial(),
        [migrations.AlterField("order", "created", models.DateTimeField(null=True, default=timezone.now))],
        select=SELECT,
    )
    assert result.sql() == []
    assert result.codes() == []


def test_builtin_factory_default_passes():
    # default=dict gives every row the same empty value on purpose
    result = run(
        initial(), [migrations.AddField("customer", "prefs", models.JSONField(default=dict))], select=SELECT
    )
    assert "DEFAULT '{}'" in result.sql()[0]
    assert result.codes() == []


def test_own_callable_default_is_flagged():
    result = run(
        initial(),
        [migrations.AddField("customer", "token", models.CharField(max_length=40, default=uuid.uuid1))],
        select=SELECT,
    )
    assert result.codes() == ["SM206"]
    assert "row.token = uuid.uuid1()" in result.last[0].fix.code
