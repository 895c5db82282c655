"""--plan: the release-by-release sequence for each must-split migration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import django
import pytest

from tests.bluegreen.project import make_bg_project
from tests.test_bluegreen import INITIAL

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures" / "demo"


def test_plan_for_a_column_drop(tmp_path):
    project = make_bg_project(tmp_path, INITIAL, 'migrations.RemoveField("book", "fax"),')
    done = project.lint("--plan", "--no-color")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "bg.0002_change [must-split]" in out
    assert "release N, before its code takes traffic (pre-deploy)" in out
    assert "1. bg.0002_change (atomic, pre-deploy): remove book.fax from the state only" in out
    assert "-- deploy release N; wait until no pod of the previous release runs --" in out
    assert "2. bg.0003_drop_book_fax (atomic, post-deploy): drop column bg_book.fax" in out
    # Each step is shown as the file --fix would write.
    assert 'safe_migrations_phase = "post-deploy"' in out
    assert 'ALTER TABLE "bg_book" DROP COLUMN IF EXISTS "fax"' in out
    assert "null=True" in out  # NOT NULL: nullable first, so the new code can insert
    # --plan writes nothing.
    assert project.files() == ["0001_initial", "0002_change"]


def test_plan_in_json_is_additive(tmp_path):
    project = make_bg_project(tmp_path, INITIAL, 'migrations.RemoveField("book", "fax"),')
    data = json.loads(project.lint("--plan", "--format", "json").stdout)
    assert data["version"] == 1 and "findings" in data  # the report as always
    (plan,) = data["plans"]
    assert plan["migration"] == "0002_change" and plan["problems"] == []
    assert [(s["name"], s["phase"], s["release"]) for s in plan["steps"]] == [
        ("0002_change", "pre-deploy", 0),
        ("0003_drop_book_fax", "post-deploy", 1),
    ]
    assert plan["steps"][1]["code"].startswith("from django.db import migrations")


def test_unplannable_hazard_is_reported_not_faked(tmp_path):
    project = make_bg_project(
        tmp_path,
        INITIAL,
        'migrations.AlterField("book", "author", models.ForeignKey("bg.Author", models.CASCADE, null=True, db_column="writer_id")),',
    )
    done = project.lint("--plan", "--no-color")
    assert "no safe sequence planned:" in done.stdout
    assert "no safe rewrite for: ALTER TABLE bg_book RENAME COLUMN author_id TO writer_id" in done.stdout


def test_two_operations_on_one_field_are_not_planned(tmp_path):
    project = make_bg_project(
        tmp_path,
        INITIAL,
        """
        migrations.AddField("book", "stock", models.IntegerField(default=0)),
        migrations.AlterField("book", "stock", models.IntegerField(default=1)),
        """,
    )
    done = project.lint("--plan", "--no-color")
    assert "all change book.stock: split them into separate migrations first" in done.stdout


def test_safe_operations_stay_in_the_first_step(tmp_path):
    project = make_bg_project(
        tmp_path,
        INITIAL,
        """
        migrations.AddField("book", "note", models.TextField(null=True)),
        migrations.RemoveField("book", "fax"),
        """,
    )
    data = json.loads(project.lint("--plan", "--format", "json").stdout)
    first, second = data["plans"][0]["steps"]
    assert "name='note'" in first["code"] and "RemoveField" in first["code"]
    assert "DROP COLUMN" in second["code"] and "note" not in second["code"]


def test_contract_and_expand_mixed_are_split_by_phase(tmp_path):
    forget = """
    migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("book", "fax")], database_operations=[]
    ),
    """
    project = make_bg_project(tmp_path, INITIAL, forget)
    project.write(
        "0003_mixed",
        """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("bg", "0002_change")]
    operations = [
        migrations.RunSQL('ALTER TABLE "bg_book" DROP COLUMN "fax"', migrations.RunSQL.noop),
        migrations.AddField("book", "note", models.TextField(null=True)),
    ]
""",
    )
    data = json.loads(project.lint("--plan", "--format", "json").stdout)
    phases = {m["name"]: m["phase"] for m in data["migrations"]}
    assert phases["0003_mixed"] == "must-split"
    (plan,) = data["plans"]
    first, second = plan["steps"]
    assert first["phase"] == "pre-deploy" and "AddField" in first["code"] and "DROP" not in first["code"]
    assert second["phase"] == "post-deploy" and 'DROP COLUMN "fax"' in second["code"]


@pytest.mark.skipif(django.VERSION < (5, 0), reason="the demo project uses db_default")
def test_demo_plan():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join([str(DEMO), str(REPO)])
    done = subprocess.run(
        [sys.executable, "manage.py", "lintmigrations", "--no-cache", "--plan", "--format", "json"],
        cwd=DEMO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    plans = {p["app_label"] + "." + p["migration"]: p for p in json.loads(done.stdout)["plans"]}
    assert set(plans) == {
        "customers.0002_customer_loyalty_points",
        "customers.0004_remove_customer_fax_number",
        "orders.0003_alter_order_currency_not_null",
        "products.0003_alter_product_sku_max_length",
        "products.0004_alter_product_stock_bigint",
        "products.0005_product_category_price_idx",
    }
    # Later steps follow the app's last migration, pre-deploy ones before post-deploy ones.
    names = [s["name"] for p in plans.values() if p["app_label"] == "customers" for s in p["steps"]]
    assert names == [
        "0002_customer_loyalty_points",
        "0006_customer_loyalty_points_constraints",
        "0007_customer_loyalty_points_validate",
        "0008_customer_loyalty_points_drop_db_default",
        "0004_remove_customer_fax_number",
        "0009_drop_customer_fax_number",
    ]
    assert all(p["problems"] == [] and p["steps"] for p in plans.values())
    # The varchar shrink of a unique column: its unique index and its LIKE index are rebuilt
    # concurrently on the new column, and take the old names at the swap.
    sku = "\n".join(s["code"] for s in plans["products.0003_alter_product_sku_max_length"]["steps"])
    assert 'ADD CONSTRAINT "products_product_sku_key" UNIQUE USING INDEX' in sku
    assert "varchar_pattern_ops" in sku
    # A NOT NULL change with migrations after it keeps an empty pre-deploy migration of its name.
    currency = plans["orders.0003_alter_order_currency_not_null"]["steps"]
    assert currency[0]["phase"] == "pre-deploy" and "operations = [\n    ]" in currency[0]["code"]
    assert [s["phase"] for s in currency[1:]] == ["post-deploy"] * 3


def test_plan_warns_when_fix_would_refuse(tmp_path):
    # A plan whose later steps clash with a later migration: --plan says what --fix would say.
    from tests.bluegreen.project import make_clashing_project
    from tests.test_bluegreen import INITIAL

    project = make_clashing_project(tmp_path, INITIAL)
    done = project.lint("--plan")
    assert done.returncode == 0, done.stderr
    assert "warning: --fix would refuse: the planned steps do not apply" in done.stderr
