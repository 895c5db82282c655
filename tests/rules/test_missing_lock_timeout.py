from types import SimpleNamespace

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from safe_migrations.context import MigrationContext
from safe_migrations.parsing import parse_migration
from safe_migrations.timeouts import timeout_in_force
from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM117",)
SET_LOCAL = migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop)
SET_SESSION = migrations.RunSQL("SET lock_timeout = '2s'", migrations.RunSQL.noop)


def nickname():
    return migrations.AddField("customer", "nickname", models.CharField(max_length=50, null=True))


def memo():
    return migrations.AddField("order", "memo", models.TextField(null=True))


def test_docs_example_is_flagged_once_per_migration():
    result = run(initial(), [nickname(), memo()], select=SELECT)
    assert result.codes() == ["SM117"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_customer"
    assert finding.message.startswith('\'ALTER TABLE "shop_customer" ADD COLUMN "nickname"')
    assert (
        "(Add field nickname to customer) waits for ACCESS EXCLUSIVE on shop_customer with no lock_timeout"
        in finding.message
    )
    assert "every query on shop_customer queues behind it" in finding.message
    assert "SET LOCAL lock_timeout = '2s'" in finding.fix.code
    assert '"-c lock_timeout=2s"' in finding.fix.code and "55P03" in " ".join(finding.fix.steps)


def test_use_instead_set_local_first_passes():
    assert run(initial(), [SET_LOCAL, nickname(), memo()], select=SELECT).codes() == []


def test_set_after_the_first_lock_is_too_late():
    result = run(initial(), [nickname(), SET_LOCAL, memo()], select=SELECT)
    assert result.codes() == ["SM117"]
    assert result.last[0].table == "shop_customer"


def test_set_local_does_nothing_in_a_non_atomic_migration():
    result = run(initial(), Mig([SET_LOCAL, nickname()], atomic=False), select=SELECT)
    assert result.codes() == ["SM117"]
    fix = result.last[0].fix
    assert """migrations.RunSQL("SET lock_timeout = '2s'", migrations.RunSQL.noop)""" in fix.code
    assert "SET LOCAL lock_timeout" not in fix.code and "atomic = False" in fix.code
    assert run(initial(), Mig([SET_SESSION, nickname()], atomic=False), select=SELECT).codes() == []


def test_connection_or_setting_timeout_passes():
    assert run(initial(), [nickname()], select=SELECT, lock_timeout=True).codes() == []


def test_zero_reset_and_set_config():
    off = migrations.RunSQL("SET LOCAL lock_timeout = 0", migrations.RunSQL.noop)
    assert run(initial(), [SET_LOCAL, off, nickname()], select=SELECT).codes() == ["SM117"]
    reset = migrations.RunSQL("RESET lock_timeout", migrations.RunSQL.noop)
    assert run(initial(), [SET_SESSION, reset, nickname()], select=SELECT).codes() == ["SM117"]
    config = migrations.RunSQL("SELECT set_config('lock_timeout', '2s', true)", migrations.RunSQL.noop)
    assert run(initial(), [config, nickname()], select=SELECT).codes() == []


def test_locks_that_do_not_block_writes_pass():
    concurrent = Mig(
        [AddIndexConcurrently("customer", models.Index(fields=["age"], name="customer_age_idx"))],
        atomic=False,
    )
    assert run(initial(), concurrent, select=SELECT).codes() == []


def test_share_lock_of_an_index_build_is_flagged():
    result = run(
        initial(),
        [migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))],
        select=SELECT,
    )
    assert result.codes() == ["SM117"]
    assert result.last[0].lock == "SHARE" and "every write on shop_order" in result.last[0].message


def test_new_table_is_exempt():
    assert run(initial(), select=SELECT).codes(all_migrations=True) == []


def test_attach_partition_locks_the_attached_table():
    part = migrations.RunSQL(
        "CREATE TABLE shop_event (k int) PARTITION BY RANGE (k); CREATE TABLE shop_event_2 (k int)",
        migrations.RunSQL.noop,
    )
    attach = migrations.RunSQL(
        "ALTER TABLE shop_event ATTACH PARTITION shop_event_2 FOR VALUES FROM (0) TO (9)"
    )
    result = run(initial(), [part], [attach], select=SELECT)
    assert result.codes() == ["SM117"]
    assert result.last[0].table == "shop_event_2"


def test_configured_timeout_switched_off_in_the_migration():
    result = run(
        initial(),
        [migrations.RunSQL("SET lock_timeout = 0", migrations.RunSQL.noop), nickname()],
        select=SELECT,
    )
    migration = result.collected[-1]
    statements = parse_migration(migration)
    ctx = MigrationContext.build(migration, statements, SimpleNamespace(lock_timeout_configured=True))  # type: ignore[arg-type]
    assert timeout_in_force(ctx, statements[0], "lock_timeout", True)
    assert not timeout_in_force(ctx, statements[-1], "lock_timeout", True)
