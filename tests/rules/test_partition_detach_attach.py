import pglast
from django.db import migrations

from safe_migrations.context import MigrationContext, Target
from safe_migrations.parsing import parse_migration
from safe_migrations.rules.partition_detach_attach import _check_for, _partition_key
from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM119",)


def sql(*texts):
    return [migrations.RunSQL(t, migrations.RunSQL.noop) for t in texts]


def events():
    """A partitioned table with one partition, and a loaded table to attach later."""
    return sql(
        "CREATE TABLE shop_event (id bigint, k integer) PARTITION BY RANGE (k)",
        "CREATE TABLE shop_event_1 PARTITION OF shop_event FOR VALUES FROM (0) TO (100)",
        "CREATE TABLE shop_event_2 (id bigint, k integer)",
    )


DETACH = 'ALTER TABLE "shop_event" DETACH PARTITION "shop_event_1"'
ATTACH = 'ALTER TABLE "shop_event" ATTACH PARTITION "shop_event_2" FOR VALUES FROM (100) TO (200)'


def test_docs_example_detach_and_attach_are_flagged():
    result = run(initial(), events(), sql(DETACH, ATTACH), select=SELECT)
    assert result.codes() == ["SM119", "SM119"]
    detach, attach = result.last
    assert detach.severity.label == "warning"
    assert detach.lock == "ACCESS EXCLUSIVE" and detach.table == "shop_event"
    assert detach.message.startswith("Detaching shop_event_1 from shop_event takes ACCESS EXCLUSIVE on both")
    assert (
        'DETACH PARTITION "shop_event_1" CONCURRENTLY' in detach.fix.code
        and "atomic = False" in detach.fix.code
    )
    assert "SET lock_timeout = '2s'" in detach.fix.code
    assert attach.table == "shop_event_2" and attach.lock == "ACCESS EXCLUSIVE"
    assert attach.message.startswith("Attaching shop_event_2 to shop_event reads all of shop_event_2")
    assert "no validated CHECK constraint" in attach.message


def test_use_instead_detach_concurrently_passes():
    result = run(initial(), events(), Mig(sql(DETACH + " CONCURRENTLY"), atomic=False), select=SELECT)
    assert result.codes() == []


def test_use_instead_the_attach_fix_migrations_pass():
    flagged = run(initial(), events(), sql(ATTACH), select=SELECT)
    fix = flagged.last[0].fix
    assert 'CHECK ("key" IS NOT NULL AND "key" >= 100 AND "key" < 200) NOT VALID' in fix.code
    assert 'VALIDATE CONSTRAINT "shop_event_2_bound_check"' in fix.code
    assert any('Write "key" as your partition key column' in step for step in fix.steps)
    steps = fix_migrations(fix.code)
    assert len(steps) == 3
    assert run(initial(), events(), *steps, select=SELECT).codes(all_migrations=True) == []


def test_validated_check_with_not_null_in_the_same_migration_passes():
    check = 'ALTER TABLE "shop_event_2" ADD CONSTRAINT "b" CHECK (k IS NOT NULL AND k >= 100 AND k < 200)'
    assert run(initial(), events(), sql(check, ATTACH), select=SELECT).codes() == []
    not_valid = check + " NOT VALID"
    assert run(initial(), events(), sql(not_valid, ATTACH), select=SELECT).codes() == ["SM119"]
    validated = 'ALTER TABLE "shop_event_2" VALIDATE CONSTRAINT "b"'
    assert (
        run(initial(), events(), Mig(sql(not_valid, validated, ATTACH), atomic=False), select=SELECT).codes()
        == []
    )


def test_check_without_not_null_does_not_count():
    check = 'ALTER TABLE "shop_event_2" ADD CONSTRAINT "b" CHECK (k >= 100 AND k < 200)'
    result = run(initial(), events(), sql(check, ATTACH), select=SELECT)
    assert result.codes() == ["SM119"]
    assert "lacks IS NOT NULL" in result.last[0].message


def test_check_for_another_bound_does_not_count():
    check = 'ALTER TABLE "shop_event_2" ADD CONSTRAINT "b" CHECK (k IS NOT NULL AND k >= 300 AND k < 400)'
    assert run(initial(), events(), sql(check, ATTACH), select=SELECT).codes() == ["SM119"]


def test_list_partition_with_matching_check_passes():
    setup = sql(
        "CREATE TABLE shop_region (code text) PARTITION BY LIST (code)",
        "CREATE TABLE shop_region_eu (code text)",
    )
    check = "ALTER TABLE shop_region_eu ADD CONSTRAINT eu CHECK (code IS NOT NULL AND code IN ('de', 'fr'))"
    attach = "ALTER TABLE shop_region ATTACH PARTITION shop_region_eu FOR VALUES IN ('de', 'fr')"
    assert run(initial(), setup, sql(check, attach), select=SELECT).codes() == []
    assert run(initial(), setup, sql(attach), select=SELECT).codes() == ["SM119"]


def test_before_pg12_attach_locks_the_parent():
    result = run(initial(), events(), sql(ATTACH), select=SELECT, pg_version=11)
    finding = result.last[0]
    assert finding.table == "shop_event"
    assert "PostgreSQL 11 holds ACCESS EXCLUSIVE on shop_event for the whole scan" in finding.message


def test_before_pg14_detach_has_no_concurrent_form():
    result = run(initial(), events(), sql(DETACH), select=SELECT, pg_version=13)
    finding = result.last[0]
    assert "PostgreSQL 13 has no DETACH PARTITION ... CONCURRENTLY" in finding.message
    assert "CONCURRENTLY'" not in finding.fix.code and "lock_timeout" in finding.fix.code
    concurrent = run(
        initial(), events(), Mig(sql(DETACH + " CONCURRENTLY"), atomic=False), select=SELECT, pg_version=13
    )
    assert concurrent.codes() == ["SM119"]
    assert concurrent.last[0].severity.label == "error"
    assert "needs PostgreSQL 14" in concurrent.last[0].message


def test_partition_key_created_in_the_migration_is_used_in_the_check():
    # The partitioned table is new, so nothing is reported for it; the key is read from CREATE TABLE.
    result = run(initial(), events(), select=SELECT)
    assert result.codes(all_migrations=True) == []
    bound = pglast.parse_sql(ATTACH)[0].stmt.cmds[0].def_.bound
    assert _check_for(bound, ["k"]) == ('"k" IS NOT NULL AND "k" >= 100 AND "k" < 200', True)
    migration = result.collected[-1]
    ctx = MigrationContext.build(migration, parse_migration(migration), Target())
    assert _partition_key(ctx, "shop_event") == ["k"]
