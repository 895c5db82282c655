from django.db import migrations, models

from safe_migrations.rules.identifier_too_long import long_identifiers
from tests.conftest import initial
from tests.harness import run

SELECT = ("SM407",)
LONG_TABLE = "shop_orders_placed_through_the_partner_marketplace_integration_v2"


def order(db_table):
    return migrations.CreateModel(
        "Order", [("id", models.BigAutoField(primary_key=True))], options={"db_table": db_table}
    )


def test_docs_example_long_db_table_is_flagged():
    result = run([order(LONG_TABLE)], select=SELECT)
    assert result.codes() == ["SM407"]
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == LONG_TABLE[:63]
    assert finding.message.startswith(
        f"Identifier {LONG_TABLE!r} is 65 bytes: PostgreSQL silently keeps only its first 63"
    )
    assert repr(LONG_TABLE[:63]) in finding.message
    assert "db_table" in finding.fix.code


def test_use_instead_short_name_passes():
    result = run([order("shop_partner_orders_v2")], select=SELECT)
    assert result.codes() == []


def test_djangos_generated_names_are_shortened_by_django():
    name = "PartnerMarketplaceIntegrationOrderLineAdjustmentHistoryEntryRecord"
    result = run(
        initial(),
        [
            migrations.CreateModel(
                name,
                [
                    ("id", models.BigAutoField(primary_key=True)),
                    (
                        "customer_of_the_partner_marketplace",
                        models.ForeignKey("shop.Customer", models.CASCADE),
                    ),
                ],
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_each_long_name_is_reported_once():
    index = "order_note_search_index_built_for_the_partner_marketplace_reports"  # 65 bytes
    result = run(
        initial(),
        [
            migrations.RunSQL(f'CREATE INDEX "{index}" ON shop_order (note)', f'DROP INDEX "{index}"'),
            migrations.RunSQL(f'ALTER INDEX "{index}" SET (fillfactor = 90)', migrations.RunSQL.noop),
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert "is 65 bytes" in finding.message
    assert finding.table == "shop_order"
    assert "in the SQL, rename" in finding.fix.code


def test_length_is_counted_in_bytes_from_the_lexer():
    # 32 characters, 64 bytes: PostgreSQL's limit is NAMEDATALEN - 1 bytes.
    assert list(long_identifiers('CREATE INDEX "' + "é" * 32 + '" ON t (c)')) == ["é" * 32]
    assert list(long_identifiers('CREATE INDEX "' + "é" * 31 + '" ON t (c)')) == []
    assert list(long_identifiers("SELECT 1 FROM " + "A" * 64)) == ["a" * 64]  # folded to lower case
    assert list(long_identifiers("SELECT '" + "x" * 80 + "'")) == []  # a string, not a name
