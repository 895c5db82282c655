"""The fix code a finding prints is a working migration chain: parsed, re-linted, and applied
on a real PostgreSQL between the running release's reads and writes.

Each case writes the unsafe change as bg.0002_change, takes the fix of one rule from
``lintmigrations --format json``, writes each of its ``class Migration`` blocks as a file of its
own in place of the change, and drives the chain with tests/bluegreen/driver.py.
"""

from __future__ import annotations

import ast
import json
import re
import uuid

import django
import pytest
from django.db import migrations, models

from tests.bluegreen.db import admin, scratch_database
from tests.bluegreen.project import BgProject, make_bg_project
from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations
from tests.test_bluegreen import INITIAL, OLD_PROBE, SEED, new_probe

FINGERPRINT = {"bg_author": 1, "bg_book": 3000, "bg_coupon": 200}


def _fix_of(project: BgProject, rule: str) -> str:
    done = project.lint("bg", "--format", "json", "--select", rule)
    findings = [f for f in json.loads(done.stdout)["findings"] if f["rule"] == rule]
    assert findings, done.stdout + done.stderr
    return str(findings[0]["fix"]["code"])


def _write_fix(project: BgProject, code: str) -> list[str]:
    """Replace bg.0002_change by the fix's migrations, chained in order."""
    (project.migrations / "0002_change.py").unlink()
    previous, names = "0001_initial", []
    for n, chunk in enumerate(c for c in re.split(r"\n\n(?=# )", code) if "class Migration" in c):
        name = f"{n + 2:04d}_fix"
        chunk = chunk.replace("dependencies = [...]", f"dependencies = [('bg', {previous!r})]")
        project.write(name, "import uuid\n" + chunk + "\n")
        previous = name
        names.append(name)
    return names


def _query(db: str, sql: str) -> list[tuple]:
    import psycopg

    from tests.bluegreen.db import HOST, PORT, USER

    with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=db) as conn:
        return conn.execute(sql).fetchall()


def _drive_fix(
    tmp_path, change: str, rule: str, probe: str, queries: tuple[str, ...] = ()
) -> tuple[BgProject, str, dict]:
    project = make_bg_project(tmp_path / "p", INITIAL, change)
    code = _fix_of(project, rule)
    ast.parse(code)
    _write_fix(project, code)
    after = project.lint("bg", "--format", "json", "--select", rule)
    assert json.loads(after.stdout)["findings"] == [], after.stdout
    spec = {
        "app": "bg",
        "base": "0001_initial",
        "seed": SEED,
        "old_probe": OLD_PROBE,
        "new_probe": probe,
        "fingerprint": FINGERPRINT,
    }
    with scratch_database("sm_fixes") as db:
        result = project.drive(db, spec)
        result["queries"] = [_query(db, sql) for sql in queries]  # the end state, on the database
    for step in result["steps"]:
        assert step["error"] is None, step
        if step["phase"] == "pre-deploy":
            assert step["old_code"] is None, step  # the running release keeps working
        else:
            assert step["new_code"] is None, step
    assert result["at_deploy"] is None, result["at_deploy"]
    return project, code, result


# --- 1. SM205, makemigrations' one-off default ----------------------------------------------


def test_one_off_default_fix_keeps_the_value_not_null(tmp_path):
    change = (
        'migrations.AddField("book", "region", models.CharField(default="eu", max_length=30), '
        "preserve_default=False),"
    )
    count = """SELECT count(*) FILTER (WHERE "region" IS NULL), count(*) FILTER (WHERE "region" = 'eu') FROM "bg_book\""""
    _, code, result = _drive_fix(tmp_path, change, "SM205", new_probe(), (count,))
    [(nulls, eu)] = result["queries"][0]
    assert nulls == 0 and eu >= 3001  # the seeded rows and the old code's INSERT
    if django.VERSION >= (5, 0):
        assert "db_default='eu'" in code
    else:  # no db_default: Django's ADD COLUMN run alone keeps the DEFAULT, the state told apart
        assert "SeparateDatabaseAndState" in code and 'ADD COLUMN "region"' in code
    assert "region=None" not in code
    columns = result["catalogue"]["tables"]["bg_book"]["columns"]
    assert columns["region"] == ["character varying(30)", True, None]  # NOT NULL, default gone at the end


def test_one_off_default_before_django_5_backfills_the_value():
    from safe_migrations.fixes.recipes import add_not_null_column

    change = migrations.AddField(
        "customer", "region", models.CharField(default="eu", max_length=30), preserve_default=False
    )
    op = run(initial(), [change]).collected[-1].operations[0]
    fix = add_not_null_column(op, op.new_field, (4, 2), "shop_customer")
    ast.parse(fix.code)
    assert ".update(region='eu')" in fix.code and "region=None" not in fix.code
    assert "models.CharField(max_length=30, null=True)" in fix.code  # no Python default in the state


# --- 2. SM205, a callable default -------------------------------------------------------------


def test_callable_default_fix_adds_no_database_default_and_fills_each_row():
    change = migrations.AddField("customer", "token", models.UUIDField(default=uuid.uuid4))
    [finding] = run(initial(), [change], select=("SM205",)).last
    code = finding.fix.code
    ast.parse(code)
    assert "row.token = uuid.uuid4()" in code and ".update(token=" not in code
    chain = fix_migrations(code)
    result = run(initial(), *chain)
    first = result.collected[1]
    assert [s.sql for s in first.statements] == [
        'ALTER TABLE "shop_customer" ADD COLUMN "token" uuid NULL;'
    ]  # no DEFAULT '<one uuid>' for every row
    assert result.codes(all_migrations=True).count("SM206") == 0
    assert "SM205" not in result.codes(all_migrations=True)
    assert "SM304" not in result.codes(all_migrations=True)


def test_callable_default_fix_gives_rows_distinct_values_on_postgres(tmp_path):
    change = 'migrations.AddField("book", "token", models.UUIDField(default=uuid.uuid4)),'
    count = 'SELECT count(*), count(DISTINCT "token") FROM "bg_book"'
    _, _, result = _drive_fix(tmp_path, change, "SM205", new_probe(), (count,))
    [(rows, distinct)] = result["queries"][0]
    assert rows > 3000 and distinct == rows  # every row, the old code's included, its own value


# --- 3. SM109, a varchar shrink ---------------------------------------------------------------


def test_varchar_shrink_fix_keeps_the_shadow_column_out_of_the_state():
    change = migrations.AlterField("customer", "name", models.CharField(max_length=50))
    [finding] = run(initial(), [change], select=("SM109",)).last
    code = finding.fix.code
    ast.parse(code)
    assert "AddField" not in code  # name_new lives in the database only
    assert "CAST(" not in code  # an explicit cast to varchar(50) would truncate silently
    chain = fix_migrations(code)
    result = run(initial(), *chain)
    assert "SM109" not in result.codes(all_migrations=True)
    assert "SM302" not in result.codes(all_migrations=True)  # every RunSQL has its reverse


def test_varchar_shrink_fix_keeps_old_code_working_and_refuses_long_values(tmp_path):
    change = 'migrations.AlterField("book", "title", models.CharField(max_length=50)),'
    _, _, result = _drive_fix(tmp_path, change, "SM109", new_probe())
    columns = result["catalogue"]["tables"]["bg_book"]["columns"]
    assert columns["title"] == ["character varying(50)", True, None]
    assert "title_new" not in columns

    project = make_bg_project(tmp_path / "long", INITIAL, change)
    _write_fix(project, _fix_of(project, "SM109"))
    seed = SEED + 'Book.objects.filter(pk=1).update(title="x" * 80)\n'
    spec = {
        "app": "bg",
        "base": "0001_initial",
        "seed": seed,
        "old_probe": OLD_PROBE,
        "new_probe": new_probe(),
    }
    with scratch_database("sm_fixes") as db:
        failed = project.drive(db, spec)
    errors = [s["error"] for s in failed["steps"] if s["error"]]
    assert errors and "too long" in errors[0], failed["steps"]  # like ALTER TYPE, never truncated


# --- 4. SM206's own fix and SM304's fix ------------------------------------------------------


def test_callable_default_backfill_passes_unbatched_backfill(tmp_path):
    # Linted from files: the rules read a RunPython function's source, which exec'd code lacks.
    change = 'migrations.AddField("book", "uid", models.UUIDField(default=uuid.uuid4, unique=True)),'
    project = make_bg_project(tmp_path / "p", INITIAL, change)
    _write_fix(project, _fix_of(project, "SM206"))
    after = project.lint("bg", "--format", "json", "--select", "SM206,SM304")
    assert json.loads(after.stdout)["findings"] == [], after.stdout


REFRESH_CODES = """
from django.db import migrations


def refresh_codes(apps, schema_editor):
    Book = apps.get_model("bg", "Book")
    rows = []
    for book in Book.objects.all():
        book.subtitle = book.title[:10]
        rows.append(book)
    Book.objects.bulk_update(rows, ["subtitle"])


class Migration(migrations.Migration):
    dependencies = [("bg", "0001_initial")]
    operations = [migrations.RunPython(refresh_codes, migrations.RunPython.noop)]
"""


def test_unbatched_bulk_update_fix_is_real_batching_code(tmp_path):
    # From files: SM304 reads the function's source, which exec'd test code does not have.
    project = make_bg_project(tmp_path / "p", INITIAL)
    project.write("0002_change", REFRESH_CODES)
    code = _fix_of(project, "SM304")
    ast.parse(code)
    assert "book.subtitle = book.title[:10]" in code
    assert "bulk_update(rows, ['subtitle'], batch_size=BATCH)" in code
    assert "# build the changed objects" not in code
    _write_fix(project, code)
    after = project.lint("bg", "--format", "json", "--select", "SM304")
    assert json.loads(after.stdout)["findings"] == [], after.stdout


# --- 5. SM101, a field becoming unique --------------------------------------------------------


def test_field_made_unique_fix_attaches_a_unique_constraint():
    change = migrations.AlterField(
        "customer", "phone", models.CharField(max_length=20, null=True, unique=True)
    )
    [finding] = [f for f in run(initial(), [change], select=("SM101",)).last]
    code = finding.fix.code
    assert "CREATE UNIQUE INDEX CONCURRENTLY" in code and "UNIQUE USING INDEX" in code
    assert "_like" in code
    result = run(initial(), *fix_migrations(code))
    assert "SM101" not in result.codes(all_migrations=True)
    assert "SM104" not in result.codes(all_migrations=True)


STATE = (
    "import json; from django.db.migrations.loader import MigrationLoader; "
    "from tests.bluegreen.driver import state_dump; "
    "loader = MigrationLoader(None, ignore_no_migrations=True); "
    "(leaf,) = loader.graph.leaf_nodes('bg'); "
    "print(json.dumps(state_dump(loader.project_state(leaf), 'bg')))"
)


def _final_state(project: BgProject) -> dict:
    """The model state at the app's last migration: what makemigrations compares models with."""
    done = project.manage("shell", "-c", STATE)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_field_made_unique_fix_rejects_duplicates_on_postgres(tmp_path):
    change = 'migrations.AlterField("book", "isbn", models.CharField(max_length=20, null=True, unique=True)),'
    probe = new_probe() + (
        "from django.db import IntegrityError\n"
        "try:\n"
        '    Book.objects.create(title="dup", isbn="isbn-1", pages=1, code=uuid.uuid4().hex[:30])\n'
        "except IntegrityError:\n"
        "    pass\n"
        "else:\n"
        '    raise AssertionError("a duplicate isbn went in")\n'
    )
    project, _, result = _drive_fix(tmp_path, change, "SM101", probe)
    table = result["catalogue"]["tables"]["bg_book"]
    assert any(
        kind == "u" and "(isbn)" in definition for kind, definition, _ in table["constraints"].values()
    )
    assert any(name.endswith("_like") for name in table["indexes"])
    # makemigrations --check stays clean: the fix records the same model state as the change.
    original = make_bg_project(tmp_path / "original", INITIAL, change)
    assert result["state"] == _final_state(original) == _final_state(project)


def test_field_made_unique_fix_rebuilds_an_index_left_invalid_by_a_failed_build(tmp_path):
    # A duplicate makes the concurrent build fail and leave an INVALID index under its name:
    # once the duplicate is gone, running migrate again must end with a valid index attached.
    from tests.test_bluegreen import BOOKS, INVALID, _sql

    change = 'migrations.AlterField("book", "isbn", models.CharField(max_length=20, null=True, unique=True)),'
    project = make_bg_project(tmp_path / "p", INITIAL, change)
    code = _fix_of(project, "SM101")
    assert "'DROP INDEX CONCURRENTLY IF EXISTS" in code
    _write_fix(project, code)
    with scratch_database("sm_fixes") as db:
        assert project.manage("migrate", "bg", "0001", db=db).returncode == 0
        _sql(db, BOOKS, "UPDATE bg_book SET isbn = 'isbn-1' WHERE id = 2")
        failed = project.manage("migrate", "bg", db=db)
        assert failed.returncode != 0 and "isbn-1" in failed.stderr, failed.stderr[-2000:]
        assert _sql(db, INVALID), "the failed build left no INVALID index"
        _sql(db, "UPDATE bg_book SET isbn = 'isbn-2' WHERE id = 2")
        again = project.manage("migrate", "bg", db=db)
        assert again.returncode == 0, again.stderr[-2000:]
        assert _sql(db, INVALID) == []
        kinds = _sql(
            db, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'bg_book'::regclass"
        )
        assert ("UNIQUE (isbn)",) in kinds


# --- 6. lambdas and partials -----------------------------------------------------------------


def test_fixes_for_a_lambda_are_valid_python_with_a_named_function():
    step = migrations.RunPython(
        lambda apps, schema_editor: apps.get_model("shop", "Customer").objects.update(age=0)
    )
    result = run(initial(), Mig([step]), select=("SM301", "SM304"))
    fixes = {f.rule: f.fix.code for f in result.last}
    assert set(fixes) == {"SM301", "SM304"}
    for code in fixes.values():
        ast.parse(code)
        assert "<lambda>" not in code and "<function" not in code
    assert "def forwards(apps, schema_editor):" in fixes["SM301"]
    assert "objects.update(age=0)" in fixes["SM301"]
    assert "migrations.RunPython(forwards, reverse_code=migrations.RunPython.noop)" in fixes["SM301"]
    assert "def forwards_batched(apps, schema_editor):" in fixes["SM304"]


def test_fix_for_a_partial_names_a_placeholder_function():
    import functools

    def fill(apps, schema_editor, value):
        pass

    step = migrations.RunPython(functools.partial(fill, value=1))
    [finding] = run(initial(), Mig([step]), select=("SM301",)).last
    ast.parse(finding.fix.code)
    assert "def forwards(apps, schema_editor):" in finding.fix.code
    assert "migrations.RunPython(forwards," in finding.fix.code


@pytest.fixture(autouse=True, scope="module")
def _no_scratch_databases_left():
    yield
    with admin() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sm_fixes_%'").fetchall()
    assert left == []
