from dataclasses import dataclass

import django
from django.db import migrations, models

from safe_migrations.conf import Config
from safe_migrations.context import Target
from safe_migrations.engine import analyse, enabled_rules
from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM118",)
LOCK = migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop)
TIMEOUT = migrations.RunSQL("SET LOCAL statement_timeout = '1h'", migrations.RunSQL.noop)


def index():
    return migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx"))


def test_docs_example_is_reported_once_as_info():
    result = run(
        initial(),
        [LOCK, index(), migrations.AddField("order", "memo", models.TextField(null=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM118"]
    finding = result.last[0]
    assert finding.severity.label == "info"
    assert finding.lock == "SHARE" and finding.table == "shop_order"
    assert "with no statement_timeout" in finding.message
    assert "SET LOCAL statement_timeout = '1h'" in finding.fix.code


def test_use_instead_set_local_statement_timeout_passes():
    assert run(initial(), [LOCK, TIMEOUT, index()], select=SELECT).codes() == []


def test_non_atomic_needs_a_session_set():
    local = run(initial(), Mig([TIMEOUT, index()], atomic=False), select=SELECT)
    assert local.codes() == ["SM118"]
    assert "SET statement_timeout = '1h'" in local.last[0].fix.code
    session = migrations.RunSQL("SET statement_timeout = '1h'", migrations.RunSQL.noop)
    assert run(initial(), Mig([session, index()], atomic=False), select=SELECT).codes() == []


def test_zero_switches_it_off():
    off = migrations.RunSQL("SET LOCAL statement_timeout = 0", migrations.RunSQL.noop)
    assert run(initial(), [TIMEOUT, off, index()], select=SELECT).codes() == ["SM118"]


def test_data_change_in_runsql_is_reported():
    update = migrations.RunSQL("UPDATE shop_customer SET age = 0 WHERE age IS NULL", migrations.RunSQL.noop)
    result = run(initial(), [update], select=SELECT)
    assert result.codes() == ["SM118"]
    assert result.last[0].lock == "ROW EXCLUSIVE"


def test_new_table_is_exempt():
    assert run(initial(), select=SELECT).codes(all_migrations=True) == []


@dataclass(frozen=True)
class ConfiguredTarget(Target):
    statement_timeout_configured: bool = True


def test_connection_timeout_passes():
    result = run(initial(), [index()], select=SELECT)
    assert result.codes() == ["SM118"]
    target = ConfiguredTarget("postgresql", 15, django_version=tuple(django.VERSION[:2]))
    config = Config(select=SELECT)
    findings, _ = analyse(result.collected[-1], target, enabled_rules(config), config)
    assert findings == []
