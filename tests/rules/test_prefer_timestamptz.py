from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM404",)


def test_docs_example_timestamp_without_time_zone_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TABLE shop_order ADD COLUMN shipped_at timestamp")],
        select=SELECT,
    )
    assert result.codes() == ["SM404"]
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_order"
    assert finding.message.startswith("shop_order.shipped_at is timestamp without time zone")
    assert "ALTER TABLE shop_order ADD COLUMN shipped_at timestamp with time zone" in finding.fix.code


def test_use_instead_timestamptz_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_order ADD COLUMN shipped_at timestamptz",
                reverse_sql="ALTER TABLE shop_order DROP COLUMN shipped_at",
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_djangos_datetimefield_passes():
    result = run(
        initial(), [migrations.AddField("order", "shipped", models.DateTimeField(null=True))], select=SELECT
    )
    assert result.codes() == []


def test_precision_is_kept_in_the_fix():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TABLE shop_order ADD COLUMN shipped_at timestamp(3)")],
        select=SELECT,
    )
    assert "shipped_at timestamp(3) with time zone" in result.last[0].fix.code


def test_conversion_advice_depends_on_the_server_version():
    op = [migrations.RunSQL("ALTER TABLE shop_order ALTER COLUMN created TYPE timestamp")]
    recent = run(initial(), op, select=SELECT, pg_version=15)
    assert any("only changes the catalogue on PostgreSQL 15" in s for s in recent.last[0].fix.steps)
    old = run(initial(), op, select=SELECT, pg_version=11)
    assert any("rewrites the table under ACCESS EXCLUSIVE here" in s for s in old.last[0].fix.steps)
