"""lock_timeout / statement_timeout in force: SET, SET LOCAL, = 0, RESET, and the connection's own."""

from __future__ import annotations

import django
import pytest
from django.db import migrations, models

from safe_migrations.engine import _timeout_in_options
from tests.harness import Mig, run

from .conftest import initial

DROP_CHECK = migrations.RunSQL(
    'ALTER TABLE "shop_order" DROP CONSTRAINT "quantity_positive"', migrations.RunSQL.noop
)
_KEYWORD = "condition" if django.VERSION >= (5, 1) else "check"  # renamed in Django 5.1
ADD_CHECK = migrations.AddConstraint(
    "order", models.CheckConstraint(**{_KEYWORD: models.Q(quantity__gt=0)}, name="quantity_positive")
)


def _lock_warnings(*ops: object, atomic: bool = True, lock_timeout: bool = False) -> list[str]:
    result = run(
        initial(), [ADD_CHECK], Mig(list(ops), atomic=atomic), select=("SM117",), lock_timeout=lock_timeout
    )
    return result.codes()


@pytest.mark.parametrize(
    ("setting", "atomic", "flagged"),
    [
        ("SET LOCAL lock_timeout = '2s'", True, False),
        ("SET lock_timeout = '2s'", True, False),
        ("SET lock_timeout = '2s'", False, False),
        # SET LOCAL outside a transaction block only warns; the next statement has no timeout.
        ("SET LOCAL lock_timeout = '2s'", False, True),
        ("SET LOCAL lock_timeout = 0", True, True),
        ("SELECT set_config('lock_timeout', '2s', true)", True, False),
    ],
)
def test_lock_timeout_settings(setting, atomic, flagged):
    codes = _lock_warnings(migrations.RunSQL(setting, migrations.RunSQL.noop), DROP_CHECK, atomic=atomic)
    assert ("SM117" in codes) is flagged


def test_reset_returns_to_the_configured_value():
    reset = migrations.RunSQL("RESET lock_timeout", migrations.RunSQL.noop)
    off = migrations.RunSQL("SET lock_timeout = 0", migrations.RunSQL.noop)
    assert "SM117" not in _lock_warnings(off, reset, DROP_CHECK, lock_timeout=True)
    assert "SM117" in _lock_warnings(off, DROP_CHECK, lock_timeout=True)
    assert "SM117" in _lock_warnings(reset, DROP_CHECK, lock_timeout=False)


def test_drop_constraint_message_follows_the_stricter_reading():
    # SM120 (drop-constraint) says whether the lock wait is bounded; SET ... = 0 is no bound.
    off = migrations.RunSQL("SET LOCAL lock_timeout = 0", migrations.RunSQL.noop)
    result = run(initial(), [ADD_CHECK], [off, DROP_CHECK], select=("SM120",), lock_timeout=True)
    [finding] = [f for f in result.last if f.rule == "SM120"]
    assert "no lock_timeout" in finding.message


def test_statement_timeout_configured_on_the_connection_silences_sm412():
    rewrite = migrations.AlterField("order", "quantity", models.BigIntegerField(default=1))
    assert "SM118" in run(initial(), [rewrite], select=("SM118",)).codes()
    assert "SM118" not in run(initial(), [rewrite], select=("SM118",), statement_timeout=True).codes()


@pytest.mark.parametrize(
    ("options", "name", "expected"),
    [
        ({"options": "-c lock_timeout=2s"}, "lock_timeout", True),
        ({"options": "-c lock_timeout=0"}, "lock_timeout", False),
        ({"options": "-c statement_timeout='1h' -c lock_timeout=500"}, "statement_timeout", True),
        ({"options": "-c statement_timeout=0"}, "statement_timeout", False),
        ({}, "lock_timeout", False),
    ],
)
def test_timeouts_read_from_connection_options(options, name, expected):
    assert _timeout_in_options({"OPTIONS": options}, name) is expected
