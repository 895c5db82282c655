"""manage.py squashplan end to end, on the multi-app project of tests/squashprojects (real git
history with known dates, real PostgreSQL for --database and --run)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.squashprojects import build_shop

ADMIN = {"host": "127.0.0.1", "user": "postgres", "dbname": "postgres", "autocommit": True}


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A uniquely named empty database for one test, always dropped."""
    name = f"sm_wt6sq_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**ADMIN) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**ADMIN) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_databases() -> set[str]:
    with psycopg.connect(**ADMIN) as admin:
        return {
            r[0]
            for r in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sm\\_squash\\_%'")
        }


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shared project, read-only: tests that write build their own."""
    return build_shop(tmp_path_factory.mktemp("shop"), f"sm_wt6sq_absent_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def plan(shop):
    done = shop.squashplan("--format", "json")
    assert done.returncode == 0, done.stderr
    return {app["app_label"]: app for app in json.loads(done.stdout)["apps"]}


def row(stdout: str, app: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith(f"{app} ")]
    return line


def test_text_table_shows_due_clean_and_pending_cleanup(shop):
    done = shop.squashplan()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Squash plan as of 2025-06-01" in out
    assert row(out, "billing").split() == [
        "billing",
        "5",
        "5",
        "0001_initial",
        "(400",
        "d,",
        "git)",
        "0.0",
        "-",
        "DUE",
        "now",
    ]
    assert row(out, "legacy").endswith("DUE now (blocked)")
    assert row(out, "catalog").endswith("2025-08-30 (in 90 days)")
    assert " 1 pending " in row(out, "shop")
    assert row(out, "reviews").endswith("never at the current rate")
    assert "  squash 0001_initial .. 0005_invoice_paid (5 migrations)" in out
    assert "  squash 0001_initial .. 0003_order_note (3 migrations)" in out
    assert (
        "    2. In catalog/migrations/0001_initial.py, change dependencies ('shop', '0002_cart_note') "
        "to ('shop', '0001_squashed_0003_cart_total')" in out
    )
    assert out.rstrip().endswith(
        "7 app(s): 4 due (billing, legacy, orders, search), 0 cleanup(s) due, 1 awaiting a --database check, "
        "0 blocked by a partly-applied squash"
    )


def test_json_counts_ages_rates_and_schedule(plan):
    billing = plan["billing"]
    assert billing["migrations"] == 5 and billing["since_last_squash"] == 5 and billing["last_squash"] is None
    assert billing["oldest_unsquashed"] == {
        "name": "0001_initial",
        "added": "2024-04-27T00:00:00+00:00",  # 400 days before 2025-06-01, the commit's author date
        "age_days": 400,
        "source": "git",
    }
    assert billing["due"] is True and billing["due_on"] == "2025-06-01" and billing["due_in_days"] == 0
    # catalog: two migrations in the last 90 days = 0.676 a month; 2 more needed -> 90 days.
    catalog = plan["catalog"]
    assert catalog["rate_per_month"] == pytest.approx(2 * 30.4375 / 90, abs=1e-3)
    assert catalog["due"] is False and catalog["due_on"] == "2025-08-30" and catalog["due_in_days"] == 90
    assert catalog["oldest_unsquashed"]["age_days"] == 30
    # shop: 5 files, one since its squash; the squash file itself is not counted in the rate.
    shop = plan["shop"]
    assert (shop["migrations"], shop["since_last_squash"], shop["last_squash"]) == (
        5,
        1,
        "0001_squashed_0003_cart_total",
    )
    assert shop["rate_per_month"] == pytest.approx(30.4375 / 90, abs=1e-3)
    assert plan["reviews"]["due_on"] is None and plan["reviews"]["range"] is None


def test_json_ranges_blockers_and_cautions(plan):
    assert plan["billing"]["range"]["migrations"] == [
        "0001_initial",
        "0002_invoice_total",
        "0003_invoice_number_index",
        "0004_fill_totals",
        "0005_invoice_paid",
    ]
    assert [(n["level"], n["kind"], n["migration"]) for n in plan["billing"]["notes"]] == [
        ("info", "elided", "0004_fill_totals")
    ]
    assert plan["billing"]["blocked"] is False
    legacy = plan["legacy"]
    assert legacy["blocked"] is True
    assert [(n["level"], n["kind"], n["migration"]) for n in legacy["notes"]] == [
        ("blocker", "manual-porting", "0003_fill_body")
    ]
    orders = plan["orders"]
    assert orders["range"]["end"] == "0003_order_note"
    assert "circular dependency" in orders["range"]["cut"]
    assert [(n["level"], n["kind"], n["migration"]) for n in orders["notes"]] == [
        ("caution", "cross-app-cycle", "0004_order_review"),
        ("caution", "cross-app-dependency", "0002_order_comment"),
        ("caution", "kept-runsql", "0002_order_comment"),
        ("caution", "kept-runpython", "0003_order_note"),
    ]
    assert "reviews.0001_initial, which depends on 0002_order_comment" in orders["notes"][0]["message"]
    assert [(n["level"], n["kind"]) for n in plan["search"]["notes"]] == [("info", "elided")]


def test_json_cleanup_steps_follow_djangos_documentation(plan):
    (squash,) = plan["shop"]["squashes"]
    assert squash["status"] == "unverified" and squash["applied"] is None
    assert squash["replaced_files_present"] == [
        "shop/migrations/0001_initial.py",
        "shop/migrations/0002_cart_note.py",
        "shop/migrations/0003_cart_total.py",
    ]
    assert squash["dependency_edits"] == [
        {
            "migration": ["catalog", "0001_initial"],
            "file": "catalog/migrations/0001_initial.py",
            "attribute": "dependencies",
            "old": ["shop", "0002_cart_note"],
            "new": ["shop", "0001_squashed_0003_cart_total"],
        }
    ]
    steps = squash["steps"]
    assert steps[0].startswith("Delete the migration files it replaces: shop/migrations/0001_initial.py")
    assert steps[1].startswith("In catalog/migrations/0001_initial.py, change dependencies")
    assert steps[2].startswith(
        "Remove the `replaces` attribute from the Migration class in shop/migrations/0001_squashed"
    )
    assert "migrate shop --prune" in steps[3]


def test_json_envelope_is_versioned(shop):
    data = json.loads(shop.squashplan("--format", "json", "catalog").stdout)
    assert data["version"] == 1
    assert set(data) == {"version", "as_of", "thresholds", "database", "notes", "apps", "summary"}
    assert data["thresholds"] == {"count": 4, "age_days": 60, "window_days": 90}
    assert [a["app_label"] for a in data["apps"]] == ["catalog"]
    assert data["summary"] == {
        "apps": 1,
        "due": [],
        "cleanups_due": 0,
        "cleanups_unverified": 0,
        "cleanups_blocked": 0,
    }


def test_check_exits_1_only_when_an_app_is_due(shop):
    assert shop.squashplan("--check").returncode == 1
    assert shop.squashplan("--check", "catalog", "shop").returncode == 0
    # Options override SAFE_MIGRATIONS["SQUASH"]: with a higher bar nothing is due.
    assert shop.squashplan("--check", "--count", "6").returncode == 0
    assert shop.squashplan("--check", "--age-days", "401").returncode == 0
    assert shop.squashplan("--check", "--age-days", "400", "billing").returncode == 1


def test_database_decides_cleanup_due_or_blocked(shop, tmp_path):
    with database() as name:
        (shop.root / "local_settings.py").write_text(
            f"from proj_settings import *\nDATABASES['default']['NAME'] = {name!r}\n"
        )
        try:
            migrate = shop.manage("migrate", "--settings", "local_settings", "-v", "0")
            assert migrate.returncode == 0, migrate.stderr
            done = shop.squashplan(
                "--settings", "local_settings", "--database", "default", "--format", "json", "shop"
            )
            data = json.loads(done.stdout)
            assert data["database"] == "default"
            (squash,) = data["apps"][0]["squashes"]
            # A fresh database ran the squash: Django records all three replaced migrations.
            assert (squash["status"], squash["applied"]) == ("due", 3), done.stderr
            assert "all of its 3 replaced migration(s) applied on database 'default'" in squash["message"]

            with psycopg.connect(**{**ADMIN, "dbname": name}) as db:
                db.execute("DELETE FROM django_migrations WHERE app = 'shop' AND name = '0003_cart_total'")
            text = shop.squashplan("--settings", "local_settings", "--database", "default", "shop")
            assert text.returncode == 0, text.stderr
            assert (
                "  blocker: keep the old files of 0001_squashed_0003_cart_total: only 2 of its 3 replaced "
                "migration(s) are applied on database 'default'" in text.stdout
            )
            assert "Delete the migration files" not in text.stdout
        finally:
            (shop.root / "local_settings.py").unlink()


def test_database_down_exits_3_with_one_line(tmp_path):
    project = build_shop(tmp_path, "sm_wt6sq_unused", git=False, port="1")
    for args in (["--database", "default"], ["--run", "billing"]):
        done = project.squashplan(*args)
        assert done.returncode == 3, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert "'default'" in line
    assert not (project.root / "billing" / "migrations" / "0001_squashed_0005_invoice_paid.py").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no installed app with label 'nope'"),
        (["safe_migrations"], "app 'safe_migrations' has no migrations"),
        (["--as-of", "June"], "--as-of: expected a date like 2025-06-30, not 'June'"),
        (["--count", "-1"], "--count must be a whole number of at least 0, not -1"),
        (["--check", "--run"], "--check and --run cannot be combined"),
        (["--database", "replica"], "no database alias 'replica' in settings.DATABASES"),
    ],
)
def test_bad_input_exits_2_with_one_line(shop, args, message):
    done = shop.squashplan(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert message in line


def test_broken_migration_file_is_named(tmp_path):
    project = build_shop(tmp_path, "sm_wt6sq_unused", git=False)
    project.write(
        "catalog", "0003_broken", "from django.db import migrations\nclass Migration(migrations.Migration:\n"
    )
    done = project.squashplan()
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    error, summary = done.stderr.strip().splitlines()
    assert "catalog/migrations/0003_broken.py: cannot import migration: syntax error" in error
    assert summary == "CommandError: not planned, some migrations cannot be loaded: catalog"
    # The other apps are still planned; the broken one is left out rather than shown short.
    assert row(done.stdout, "billing").split()[0] == "billing"
    assert not [line for line in done.stdout.splitlines() if line.startswith("catalog ")]
    refused = project.squashplan("--run")
    assert refused.returncode == 2
    assert "--run needs every migration to load" in refused.stderr


def test_bad_squash_setting_exits_2(tmp_path):
    project = build_shop(tmp_path, "sm_wt6sq_unused", git=False)
    settings = project.root / "proj_settings.py"
    settings.write_text(settings.read_text() + 'SAFE_MIGRATIONS["SQUASH"] = {"COUNT": 4, "AGE": 9}\n')
    done = project.squashplan()
    assert done.returncode == 2
    assert "SAFE_MIGRATIONS['SQUASH']: unknown key 'AGE'" in done.stderr


def test_without_git_ages_come_from_file_times(tmp_path):
    project = build_shop(tmp_path, "sm_wt6sq_unused", git=False)
    data = json.loads(project.squashplan("--format", "json").stdout)
    apps = {a["app_label"]: a for a in data["apps"]}
    assert apps["billing"]["oldest_unsquashed"]["source"] == "mtime"
    assert apps["billing"]["oldest_unsquashed"]["age_days"] == 400
    assert apps["catalog"]["due_on"] == "2025-08-30"
    assert any("not a git checkout" in note for note in data["notes"])


def test_pyproject_thresholds_apply_below_settings(tmp_path):
    project = build_shop(tmp_path, "sm_wt6sq_unused", git=False)
    (project.root / "pyproject.toml").write_text(
        "[tool.safe_migrations.squash]\nage-days = 401\nwindow-days = 30\n"
    )
    data = json.loads(project.squashplan("--format", "json").stdout)
    # settings give COUNT (4) and AGE_DAYS (60): AGE_DAYS wins over the pyproject, window-days stays.
    assert data["thresholds"] == {"count": 4, "age_days": 60, "window_days": 30}
    catalog = next(a for a in data["apps"] if a["app_label"] == "catalog")
    assert catalog["rate_per_month"] == pytest.approx(30.4375 / 30, abs=1e-3)  # only 0002 in 30 days


def test_run_keeps_verified_squashes_and_removes_the_failed_one(tmp_path):
    project = build_shop(tmp_path, f"sm_wt6sq_absent_{uuid.uuid4().hex[:8]}")
    before = scratch_databases()
    done = project.squashplan("--run", "--format", "json")
    assert done.returncode == 1, done.stderr  # search's squash failed verification
    assert scratch_databases() <= before  # every scratch database was dropped
    runs = {r["app_label"]: r for r in json.loads(done.stdout)["runs"]}
    assert {a: r["status"] for a, r in runs.items()} == {
        "billing": "verified",
        "catalog": "skipped",
        "legacy": "skipped",
        "orders": "verified",
        "reviews": "skipped",
        "search": "failed",
        "shop": "skipped",
    }
    billing = runs["billing"]
    assert billing["file"] == "billing/migrations/0001_squashed_0005_invoice_paid.py"
    assert billing["details"][0] == "the final model state equals the original chain's"
    assert billing["details"][1].startswith("the PostgreSQL schema equals the original chain's (")
    source = (project.root / billing["file"]).read_text()
    assert "replaces = [('billing', '0001_initial')," in source and "RunPython" not in source  # elided
    orders = (project.root / runs["orders"]["file"]).read_text()
    assert "('orders', '0003_order_note')]" in orders and "0004_order_review" not in orders
    assert "orders.data.touch" in orders  # the importable, non-elidable RunPython survived

    search = runs["search"]
    assert search["reason"] == "the PostgreSQL schema differs from the original chain's"
    assert search["details"] == [
        "index on public.search_doc: CREATE INDEX ON public.search_doc USING btree (upper((title)::text)): "
        "only in the original chain"
    ]
    assert search["removed"] == ["search/migrations/0001_squashed_0004_doc_lang.py"]
    assert runs["legacy"]["reason"].startswith(
        "blocked: 0003_fill_body: RunPython legacy.migrations.0003_fill_body"
    )
    # Nothing else was written: git sees exactly the two verified squashes.
    status = project.git("status", "--porcelain", "--untracked-files=all").split("\n")
    assert sorted(s for s in status if s.endswith(".py")) == [
        "?? billing/migrations/0001_squashed_0005_invoice_paid.py",
        "?? orders/migrations/0001_squashed_0003_order_note.py",
    ]

    # The next plan sees the new squashes, awaiting cleanup, and nothing due but legacy/search.
    after = json.loads(project.squashplan("--format", "json").stdout)
    apps = {a["app_label"]: a for a in after["apps"]}
    assert (
        apps["billing"]["since_last_squash"] == 0 and apps["billing"]["squashes"][0]["status"] == "unverified"
    )
    assert apps["orders"]["last_squash"] == "0001_squashed_0003_order_note"
    assert after["summary"]["due"] == ["legacy", "search"]


def test_run_only_named_apps_and_text_report(tmp_path):
    project = build_shop(tmp_path, f"sm_wt6sq_absent_{uuid.uuid4().hex[:8]}")
    done = project.squashplan("--run", "search", "catalog")
    assert done.returncode == 1
    runs = done.stdout.split("Squash runs:\n", 1)[1]
    assert runs.splitlines()[:4] == [
        "  search: failed: the PostgreSQL schema differs from the original chain's",
        "    - index on public.search_doc: CREATE INDEX ON public.search_doc USING btree (upper((title)::text)): "
        "only in the original chain",
        "    removed search/migrations/0001_squashed_0004_doc_lang.py: nothing is left behind",
        "  catalog: skipped: not due",
    ]
    assert "billing" not in runs
    assert sorted(p.name for p in (project.root / "search" / "migrations").glob("*.py")) == [
        "0001_initial.py",
        "0002_doc_title_upper.py",
        "0003_doc_body.py",
        "0004_doc_lang.py",
        "__init__.py",
    ]


def test_interrupted_run_leaves_no_file_and_no_database(tmp_path):
    """A KeyboardInterrupt after squashmigrations wrote its file (while migrating the squashed
    chain) still removes the file and drops the scratch database."""
    project = build_shop(tmp_path, f"sm_wt6sq_absent_{uuid.uuid4().hex[:8]}", git=False)
    script = textwrap.dedent(
        """
        import django
        django.setup()
        from safe_migrations.squash import scratch
        real, calls = scratch.migrate, []
        def migrate(alias):
            calls.append(alias)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(alias)
        scratch.migrate = migrate
        from django.core.management import call_command
        call_command("squashplan", "billing", "--run", "--as-of", "2025-06-01")
        """
    )
    before = scratch_databases()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project.root, env=project.env(), capture_output=True, text=True
    )
    assert "CommandError: interrupted by SIGINT" in done.stderr  # call_command: raised, not exited
    assert len(list((project.root / "billing" / "migrations").glob("*.py"))) == 6  # 5 + __init__
    assert not list((project.root / "billing" / "migrations").glob("*squashed*"))
    assert scratch_databases() <= before
