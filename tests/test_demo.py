"""The bundled demo project: every hazard found with the right code, nothing on the safe forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import django
import pytest

# The demo shows the Django 5.0+ safe form (db_default): it needs that Django to import.
pytestmark = pytest.mark.skipif(django.VERSION < (5, 0), reason="the demo project uses db_default")

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo"

EXPECTED = {
    ("customers", "0002_customer_loyalty_points", "SM205"),
    ("customers", "0004_remove_customer_fax_number", "SM201"),
    ("orders", "0002_backfill_order_currency", "SM301"),
    ("orders", "0003_alter_order_currency_not_null", "SM108"),
    ("products", "0003_alter_product_sku_max_length", "SM109"),
    ("products", "0004_alter_product_stock_bigint", "SM109"),
    ("products", "0005_product_category_price_idx", "SM101"),
}


def lint_demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(DEMO), str(REPO)])
    return subprocess.run(
        [sys.executable, "manage.py", "lintmigrations", "--no-cache", *args],
        cwd=DEMO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_demo_findings_are_exactly_the_documented_hazards():
    done = lint_demo("--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    # The documented hazards, by the rule each is about; the whole catalogue's
    # findings on the demo are pinned in tests/golden/demo.json.
    codes = {rule for _, _, rule in EXPECTED}
    found = {(f["app_label"], f["migration"], f["rule"]) for f in data["findings"] if f["rule"] in codes}
    assert found == EXPECTED
    assert len(data["migrations"]) == 16
    assert all(f["fix"]["code"] for f in data["findings"])


def test_demo_needs_no_database_server():
    # The demo's settings point at a database that does not exist: offline mode never connects.
    done = lint_demo("--format", "sql")
    assert done.returncode == 0, done.stderr
    assert "CREATE INDEX CONCURRENTLY" in done.stdout
