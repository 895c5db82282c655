from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM406",)


def test_docs_example_char_column_is_flagged():
    result = run(
        initial(), [migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN country char(2)")], select=SELECT
    )
    assert result.codes() == ["SM406"]
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_customer"
    assert finding.message.startswith("shop_customer.country is char(2): values are padded with spaces")
    assert "ALTER TABLE shop_customer ADD COLUMN country text" in finding.fix.code
    assert any("CHECK (char_length(country) = 2)" in s for s in finding.fix.steps)


def test_use_instead_text_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_customer ADD COLUMN country text",
                reverse_sql="ALTER TABLE shop_customer DROP COLUMN country",
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_bare_char_is_char_1():
    result = run(
        initial(), [migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN flag character")], select=SELECT
    )
    assert "shop_customer.flag is char(1)" in result.last[0].message


def test_djangos_charfield_is_varchar_and_passes():
    result = run(
        initial(),
        [migrations.AddField("customer", "country", models.CharField(max_length=2, null=True))],
        select=SELECT,
    )
    assert result.codes() == []
