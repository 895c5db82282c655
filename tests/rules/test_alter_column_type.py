import pytest
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM109",)


def test_docs_example_int_to_bigint_is_flagged():
    result = run(
        initial(),
        [migrations.AlterField("order", "quantity", models.BigIntegerField(default=1))],
        select=SELECT,
    )
    assert result.codes() == ["SM109"]
    finding = result.last[0]
    assert "from integer to bigint" in finding.message
    assert "CREATE TRIGGER" in finding.fix.code


@pytest.mark.parametrize(
    "field",
    [
        models.CharField(max_length=200),  # varchar(100) -> varchar(200): catalogue only
        models.TextField(),  # varchar -> text: binary coercible
    ],
)
def test_safe_type_changes_pass(field):
    result = run(initial(), [migrations.AlterField("customer", "name", field)], select=SELECT)
    assert result.codes() == []


def test_numeric_precision_growth_passes_and_scale_change_is_flagged():
    grow = run(
        initial(),
        [
            migrations.AlterField(
                "order", "total", models.DecimalField(max_digits=12, decimal_places=2, default=0)
            )
        ],
        select=SELECT,
    )
    assert grow.codes() == []
    scale = run(
        initial(),
        [
            migrations.AlterField(
                "order", "total", models.DecimalField(max_digits=12, decimal_places=3, default=0)
            )
        ],
        select=SELECT,
    )
    assert scale.codes() == ["SM109"]


def test_varchar_shrink_is_flagged():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=50))],
        select=SELECT,
    )
    assert result.codes() == ["SM109"]


def test_text_to_varchar_is_flagged():
    result = run(
        initial(),
        [migrations.AlterField("order", "note", models.CharField(max_length=100, default=""))],
        select=SELECT,
    )
    assert result.codes() == ["SM109"]


def _raw_type_change(sql_type: str, pg_version: int) -> list:
    change = migrations.RunSQL(f'ALTER TABLE "shop_order" ALTER COLUMN "created" TYPE {sql_type}')
    return run(initial(), [change], select=SELECT, pg_version=pg_version).last


def test_hand_written_change_into_a_type_nothing_coerces_to_is_an_error():
    [finding] = _raw_type_change("bigint", 15)
    assert finding.severity.label == "error"


def test_hand_written_timestamptz_follows_the_server_version():
    # PostgreSQL 11 rewrites timestamp -> timestamptz whatever the session time zone.
    [old] = _raw_type_change("timestamptz", 11)
    assert old.severity.label == "error"
    # 12+: free from timestamp when the session is UTC; the old type is unknown here.
    [new] = _raw_type_change("timestamptz", 15)
    assert new.severity.label == "warning"
    [text] = _raw_type_change("text", 15)  # free from varchar
    assert text.severity.label == "warning"


def test_swap_frees_the_old_copy_so_new_inserts_work():
    change = migrations.AlterField("order", "quantity", models.BigIntegerField(default=1))
    [finding] = run(initial(), [change], select=SELECT).last
    assert 'ALTER COLUMN "quantity_old" DROP NOT NULL' in finding.fix.code
