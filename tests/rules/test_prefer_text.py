from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM403",)


def test_docs_example_hand_written_varchar_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN nickname varchar(50)")],
        select=SELECT,
    )
    assert result.codes() == ["SM403"]
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_customer"
    assert finding.message.startswith(
        "shop_customer.nickname is varchar(50): the limit lives in the column type"
    )
    assert "ALTER TABLE shop_customer ADD COLUMN nickname text" in finding.fix.code
    assert any("CHECK (char_length(nickname) <= 50)" in s for s in finding.fix.steps)


def test_use_instead_text_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN nickname text",
                reverse_sql="ALTER TABLE shop_customer DROP COLUMN nickname",
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_djangos_charfield_is_left_alone():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "nickname", models.CharField(max_length=50, null=True)),
            migrations.AlterField("customer", "name", models.CharField(max_length=200)),
        ],
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_hand_written_type_change_to_varchar_is_flagged():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TABLE shop_order ALTER COLUMN note TYPE character varying(500)")],
        select=SELECT,
    )
    [finding] = result.last
    assert "shop_order.note is varchar(500)" in finding.message


def test_unbounded_varchar_passes():
    result = run(
        initial(), [migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN nickname varchar")], select=SELECT
    )
    assert result.codes() == []
