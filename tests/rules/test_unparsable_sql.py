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


def test_statement_without_a_known_keyword_is_reported():
    # pglast.split(with_parser=False) returns nothing for these: they were silently dropped.
    for sql in ("SELEC 1", "ANALYZ shop_order", "FOO bar", "-- a comment\nFOO bar;"):
        result = run(initial(), [migrations.RunSQL(sql, migrations.RunSQL.noop)], select=SELECT)
        assert result.codes() == ["SM000"], sql
        [finding] = result.last
        assert "syntax error at or near" in finding.message, sql
        assert finding.location.sql.endswith(sql.split("\n")[-1].rstrip(";")), finding.location.sql


def test_every_piece_of_a_multi_statement_runsql_is_parsed_or_reported():
    sql = (
        "SELECT 1; FOO bar; /* only a comment */; ANALYZ shop_order; ALTER TABLE shop_order DROP COLUMN note"
    )
    result = run(initial(), [migrations.RunSQL(sql, migrations.RunSQL.noop)], select=("SM000", "SM201"))
    assert result.codes() == ["SM000", "SM000", "SM201"]
    bad = sorted(f.location.sql for f in result.last if f.rule == "SM000")
    assert bad == ["ANALYZ shop_order", "FOO bar"]


def test_semicolon_inside_a_function_body_does_not_split_it():
    body = "CREATE FUNCTION shop_one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELEC 2"
    result = run(initial(), [migrations.RunSQL(body, migrations.RunSQL.noop)], select=SELECT)
    [finding] = result.last
    assert finding.location.sql == "SELEC 2"


def test_comments_only_yield_nothing():
    result = run(
        initial(),
        [migrations.RunSQL("-- nothing to do\n/* really */;", migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == []
