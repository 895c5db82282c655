from django.db import migrations

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM000",)


def test_docs_example_is_flagged_with_parser_message():
    result = run(initial(), [migrations.RunSQL("ALTER TABLE shop_order ADD COLUM note text")], select=SELECT)
    assert result.codes() == ["SM000"]
    assert "syntax error" in result.last[0].message


def test_use_instead_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_order ADD COLUMN note2 text", "ALTER TABLE shop_order DROP COLUMN note2"
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_good_statements_around_a_bad_one_are_still_checked():
    result = run(
        initial(),
        [migrations.RunSQL("SELECT 1; ALTER TABLE shop_order FOO; ALTER TABLE shop_order DROP COLUMN note")],
        select=("SM000", "SM201"),
    )
    assert result.codes() == ["SM000", "SM201"]
