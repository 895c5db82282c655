from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM405",)


def test_docs_example_json_column_is_flagged():
    result = run(
        initial(), [migrations.RunSQL("ALTER TABLE shop_order ADD COLUMN payload json")], select=SELECT
    )
    assert result.codes() == ["SM405"]
    [finding] = result.last
    assert finding.severity.label == "warning"
    assert finding.table == "shop_order"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert "could not identify an equality operator for type json" in finding.message
    assert "ALTER TABLE shop_order ADD COLUMN payload jsonb" in finding.fix.code
    assert any("rewrites the table" in s for s in finding.fix.steps)


def test_use_instead_jsonb_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TABLE shop_order ADD COLUMN payload jsonb",
                reverse_sql="ALTER TABLE shop_order DROP COLUMN payload",
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_djangos_jsonfield_passes():
    result = run(
        initial(), [migrations.AddField("order", "payload", models.JSONField(null=True))], select=SELECT
    )
    assert result.codes() == []


def test_json_in_a_new_table_is_flagged_too():
    result = run(
        [migrations.RunSQL("CREATE TABLE shop_event (id bigint, data json NOT NULL)")], select=SELECT
    )
    [finding] = result.last
    assert finding.message.startswith("shop_event.data is json")
    assert "data jsonb NOT NULL" in finding.fix.code
