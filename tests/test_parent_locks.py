"""Locks a statement takes on tables its text does not name: the parents of dropped foreign keys."""

from __future__ import annotations

from django.db import migrations, models

from safe_migrations.parsing.statement import Lock, parse_migration
from tests.harness import run

from .conftest import initial


def _locks(result) -> list[tuple[str, dict[str, Lock]]]:
    return [(s.sql, {t.table: t.lock for t in s.locks}) for s in parse_migration(result.collected[-1])]


def test_drop_table_locks_the_tables_it_references():
    [(sql, locks)] = _locks(run(initial(), [migrations.DeleteModel("Order")]))
    assert sql.startswith('DROP TABLE "shop_order" CASCADE')
    assert locks == {"shop_order": Lock.ACCESS_EXCLUSIVE, "shop_customer": Lock.ACCESS_EXCLUSIVE}


def test_removing_a_foreign_key_field_locks_its_parent():
    found = _locks(run(initial(), [migrations.RemoveField("order", "customer")]))
    parents = [locks.get("shop_customer") for _, locks in found]
    assert Lock.ACCESS_EXCLUSIVE in parents


def test_dropping_a_plain_column_or_a_table_without_fk_locks_only_itself():
    [(_, locks)] = _locks(run(initial(), [migrations.RemoveField("order", "note")]))
    assert locks == {"shop_order": Lock.ACCESS_EXCLUSIVE}
    history = [*initial(), migrations.CreateModel("Tag", [("id", models.BigAutoField(primary_key=True))])]
    [(_, locks)] = _locks(run(history, [migrations.DeleteModel("Tag")]))
    assert locks == {"shop_tag": Lock.ACCESS_EXCLUSIVE}


def test_hand_written_drop_constraint_of_a_foreign_key_locks_the_parent():
    fk = "shop_order_customer_id_"  # Django's name: shop_order_customer_id_<hash>_fk_shop_cust
    history = run(initial())
    names = [s.sql for s in history.collected[-1].statements if "FOREIGN KEY" in s.sql]
    name = names[0].split('CONSTRAINT "')[1].split('"')[0]
    assert name.startswith(fk)
    drop = migrations.RunSQL(f'ALTER TABLE "shop_order" DROP CONSTRAINT "{name}"', migrations.RunSQL.noop)
    [(_, locks)] = _locks(run(initial(), [drop]))
    assert locks["shop_customer"] is Lock.ACCESS_EXCLUSIVE


def test_partition_commands_lock_the_partition_too():
    from safe_migrations.parsing.postgres import parse_items

    def locks(sql: str) -> dict[str, Lock]:
        [(_, _, _, found)] = list(parse_items(sql))
        return {t.table: t.lock for t in found}

    attach = locks("ALTER TABLE p ATTACH PARTITION p3 FOR VALUES FROM (200) TO (300)")
    assert attach == {"p": Lock.SHARE_UPDATE_EXCLUSIVE, "p3": Lock.ACCESS_EXCLUSIVE}
    assert locks("ALTER TABLE p DETACH PARTITION p2") == {
        "p": Lock.ACCESS_EXCLUSIVE,
        "p2": Lock.ACCESS_EXCLUSIVE,
    }
    concurrent = locks("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY")
    assert concurrent == {"p": Lock.SHARE_UPDATE_EXCLUSIVE, "p1": Lock.SHARE_UPDATE_EXCLUSIVE}
