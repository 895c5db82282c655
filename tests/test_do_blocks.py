"""Statements inside a PL/pgSQL DO block are checked as if written on their own."""

from __future__ import annotations

from django.db import migrations

from tests.conftest import initial
from tests.harness import Mig, run


def _codes(sql: str, *, atomic: bool = True) -> list[str]:
    result = run(initial(), Mig([migrations.RunSQL(sql, migrations.RunSQL.noop)], atomic=atomic))
    return sorted({f.rule for f in result.last if f.severity.label != "info"})


def test_ddl_inside_a_do_block_gets_the_same_codes_as_outside():
    block = (
        "DO $$ BEGIN "
        'ALTER TABLE "shop_customer" DROP COLUMN "fax"; '
        'CREATE INDEX "customer_name_idx" ON "shop_customer" ("name"); '
        "END $$"
    )
    found = _codes(block)
    assert {"SM201", "SM101", "SM302"} <= set(found)


def test_execute_of_a_constant_string_is_read_too():
    block = "DO $$ BEGIN EXECUTE 'ALTER TABLE shop_customer ALTER COLUMN age SET NOT NULL'; END $$"
    assert "SM108" in _codes(block)


def test_loop_of_updates_in_one_transaction_is_an_unbatched_backfill():
    block = (
        "DO $$ DECLARE lo bigint := 0; BEGIN "
        "WHILE lo < 1000000 LOOP "
        "UPDATE shop_order SET quantity = 1 WHERE id BETWEEN lo AND lo + 999; lo := lo + 1000; "
        "END LOOP; END $$"
    )
    assert "SM304" in _codes(block)


def test_dynamic_sql_stays_opaque():
    block = "DO $$ BEGIN EXECUTE 'ALTER TABLE ' || 'shop_customer' || ' DROP COLUMN fax'; END $$"
    found = _codes(block)
    assert "SM302" in found and "SM201" not in found


def test_batches_committed_inside_a_do_block_of_a_non_atomic_migration_pass():
    block = (
        "DO $$ DECLARE lo bigint := 0; BEGIN "
        "WHILE lo < 1000000 LOOP "
        "UPDATE shop_order SET quantity = 1 WHERE id BETWEEN lo AND lo + 999; COMMIT; lo := lo + 1000; "
        "END LOOP; END $$"
    )
    assert "SM304" not in _codes(block, atomic=False)
    assert "SM304" in _codes(block, atomic=True)  # COMMIT is refused inside a transaction block
