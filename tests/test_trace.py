"""--trace on the real server: what PostgreSQL did per statement, and the scratch database's
lifecycle (always dropped, even when the run is interrupted or killed)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.project import REPO, Project
from tests.test_gate_support import admin, database, migrate, project, role, scratch_databases

SCRATCH = re.compile(r"^sm_trace_\d+_\d+_[0-9a-f]+$")

CHANGES = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [
        migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx")),
        migrations.AlterField("book", "points", models.BigIntegerField(default=0)),
        migrations.AlterField("book", "fax", models.CharField(max_length=20, default="")),
    ]
"""

CONCURRENT = """
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("library", "0004_changes")]
    operations = [
        AddIndexConcurrently("book", models.Index(fields=["fax"], name="book_fax_idx")),
        # The static analysis cannot see into PL/pgSQL: the trace does.
        migrations.RunSQL(
            "DO $$ BEGIN EXECUTE 'LOCK TABLE library_book IN SHARE MODE'; END $$", migrations.RunSQL.noop
        ),
    ]
"""

SLOW = """
import os

from django.db import migrations


def slow(apps, schema_editor):
    schema_editor.execute("SELECT pg_sleep(%s)", [float(os.environ.get("SM_SLEEP", "0"))])


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.RunPython(slow, migrations.RunPython.noop)]
"""


def traced_project(tmp_path, name: str, settings: str = "") -> Project:
    made = project(tmp_path, name, settings)
    migrate(made, "auth")
    migrate(made, "library", "0001")
    return made


def statements(data: dict, migration: str) -> list[dict]:
    (found,) = [m for m in data["trace"]["migrations"] if m["name"] == migration]
    return found["statements"]


def test_trace_reports_locks_rewrites_scans_and_what_the_static_analysis_missed(tmp_path):
    with database() as name:
        made = traced_project(tmp_path, name)
        made.write("0004_changes", CHANGES)
        made.write("0005_concurrent", CONCURRENT)
        before = scratch_databases()

        done = made.run("--pending", "--trace", "--format", "json")

        assert done.returncode == 1, done.stderr
        data = json.loads(done.stdout)
        trace = data["trace"]
        assert SCRATCH.match(trace["database"]) and trace["cleanup"] == "dropped"
        assert trace["database"] not in scratch_databases() and scratch_databases() <= before
        assert [m["name"] for m in trace["migrations"]] == [
            "0002_book_points",
            "0003_grow_title",
            "0004_changes",
            "0005_concurrent",
        ]
        assert {m["status"] for m in trace["migrations"]} == {"applied"}

        add, drop_default = statements(data, "0002_book_points")
        assert add["sql"].startswith('ALTER TABLE "library_book" ADD COLUMN "points"')
        assert add["mode"] == "transaction"
        assert add["locks"] == [{"relation": "library_book", "kind": "table", "mode": "ACCESS EXCLUSIVE"}]
        assert add["rewritten"] == [] and add["differences"] == []
        # Already held since the ADD COLUMN, in the same transaction: nothing new, as predicted.
        assert drop_default["locks"] == [] and drop_default["differences"] == []

        (grow,) = statements(data, "0003_grow_title")
        assert grow["rewritten"] == []  # varchar(100) -> varchar(200): catalogue only

        index, retype, set_default, backfill, set_not_null, _ = statements(data, "0004_changes")
        assert index["locks"][0] == {"relation": "library_book", "kind": "table", "mode": "SHARE"}
        assert index["scanned"] == ["library_book"] and index["predicted"] == ["SHARE on library_book"]
        assert "library_book" in retype["rewritten"] and "library_book_pkey" in retype["rewritten"]
        assert "rewrite of library_book" in retype["predicted"] and retype["differences"] == []
        assert backfill["sql"].startswith('UPDATE "library_book" SET "fax"')
        assert set_not_null["sql"].endswith("SET NOT NULL") and set_not_null["scanned"] == ["library_book"]
        assert all(s["elapsed_ms"] > 0 for s in (index, retype, set_default, backfill, set_not_null))

        concurrently, do_block = statements(data, "0005_concurrent")
        assert concurrently["mode"] == "autocommit, not observable" and concurrently["locks"] == []
        assert do_block["mode"] == "autocommit"
        assert do_block["locks"] == [{"relation": "library_book", "kind": "table", "mode": "SHARE"}]
        assert do_block["predicted"] == []
        assert do_block["differences"] == ["SHARE on library_book was not predicted"]

        # Findings carry the trace of their statement.
        (sm101,) = [f for f in data["findings"] if f["rule"] == "SM101"]
        assert sm101["trace"]["locks"][0]["mode"] == "SHARE"

        text = made.run("--pending", "--trace", "--no-color").stdout
        assert "traced: SHARE on library_book; scanned library_book [" in text
        assert "trace: 2 statement(s), atomic = False" in text
        assert "differs: SHARE on library_book was not predicted" in text
        assert "1 statement(s) differ from the static analysis" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trace"], "--trace needs --pending"),
        (["--pending", "--trace-database", "other"], "--trace-database needs --trace"),
        (["--pending", "--trace", "--format", "sql"], "--trace reports findings"),
    ],
)
def test_trace_options_need_their_companions(tmp_path, args, message):
    done = project(tmp_path, "unused").run(*args)
    assert done.returncode == 2 and message in done.stderr


def test_a_pending_migration_that_fails_on_the_scratch_database_is_an_error(tmp_path):
    with database() as name:
        made = traced_project(tmp_path, name)
        made.write(
            "0004_broken_sql",
            """
            from django.db import migrations


            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title")]
                operations = [migrations.RunSQL("UPDATE library_book SET nosuchcolumn = 1", migrations.RunSQL.noop)]
            """,
        )
        made.write(
            "0005_after",
            """
            from django.db import migrations


            class Migration(migrations.Migration):
                dependencies = [("library", "0004_broken_sql")]
                operations = []
            """,
        )
        before = scratch_databases()
        done = made.run("--pending", "--trace", "--no-color")
        assert done.returncode == 2, done.stdout + done.stderr
        assert (
            'library/migrations/0004_broken_sql.py: fails on the scratch database: column "nosuchcolumn"'
            in done.stdout
        )
        assert "trace: not run (an earlier migration failed on the scratch database)" in done.stdout
        assert scratch_databases() <= before
        assert "Traceback" not in done.stderr


def _start(made: Project, sleep: float) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proj_settings",
        "PYTHONPATH": os.pathsep.join([str(made.root), str(REPO)]),
        "SM_SLEEP": str(sleep),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "django", "lintmigrations", "--pending", "--trace", "--format", "json"],
        cwd=made.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _sleeping_scratch_database(process: subprocess.Popen[str], timeout: float = 120) -> str:
    """The scratch database once the slow migration is running in it."""
    deadline = time.monotonic() + timeout
    with admin() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                r"SELECT datname FROM pg_stat_activity WHERE datname LIKE 'sm\_trace\_%'"
                " AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
            ).fetchone()
            if row:
                return str(row[0])
            if process.poll() is not None:
                raise AssertionError(f"the trace ended early: {process.communicate()}")
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the slow migration never started")


def test_a_killed_run_leaves_a_scratch_database_that_the_next_run_drops(tmp_path):
    with database() as name:
        made = traced_project(tmp_path, name)
        made.write("0004_slow", SLOW)
        process = _start(made, sleep=60)
        try:
            scratch = _sleeping_scratch_database(process)
            process.send_signal(signal.SIGKILL)  # no handler, no finally: the database stays
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
        assert SCRATCH.match(scratch) and scratch in scratch_databases()

        again = made.run("--pending", "--trace", "--format", "json", env={"SM_SLEEP": "0"})

        data = json.loads(again.stdout)
        assert scratch in data["trace"]["orphans_dropped"]
        assert data["trace"]["cleanup"] == "dropped"
        assert scratch_databases() == set()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_drop_the_scratch_database(tmp_path, signum, code):
    with database() as name:
        made = traced_project(tmp_path, name)
        made.write("0004_slow", SLOW)
        process = _start(made, sleep=60)
        try:
            scratch = _sleeping_scratch_database(process)
            started = time.monotonic()
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert time.monotonic() - started < 30  # it did not sit out the 60 s sleep
        assert process.returncode == code, stderr
        name_ = signal.Signals(signum).name
        assert stderr.strip() == f"CommandError: interrupted by {name_}: scratch database {scratch} dropped"
        assert scratch not in scratch_databases()


def test_the_sweep_spares_a_scratch_database_whose_owner_is_alive(tmp_path):
    with database() as name:
        made = traced_project(tmp_path, name)
        # Another gate's scratch database, older than this run, whose owner still runs.
        other = f"sm_trace_{int(time.time()) - 7200}_1_0badc0de"
        with admin() as conn:
            conn.execute(f'CREATE DATABASE "{other}"')
        try:
            with admin(application_name=f"sm_trace_owner:{other}"):
                done = json.loads(made.run("--pending", "--trace", "--format", "json").stdout)
                assert done["trace"]["orphans_dropped"] == []
                assert other in scratch_databases()
            # The owner is gone now: the next run drops it.
            done = json.loads(made.run("--pending", "--trace", "--format", "json").stdout)
            assert done["trace"]["orphans_dropped"] == [other]
            assert other not in scratch_databases()
        finally:
            with admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')


def test_a_read_only_target_traced_through_another_connection(tmp_path):
    """The deploy setup: a read-only role for the target, --trace-database for the scratch."""
    with role() as reader, database() as name:
        made = traced_project(
            tmp_path,
            name,
            """
            DATABASES["tracer"] = {**DATABASES["default"], "NAME": "postgres"}
            """,
        )
        with admin(name) as conn:
            conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{reader}"')
            conn.execute(f'GRANT SELECT ON django_migrations TO "{reader}"')
        settings = made.root / "proj_settings.py"
        settings.write_text(settings.read_text() + f'\nDATABASES["default"]["USER"] = {reader!r}\n')

        refused = made.run("--pending", "--trace")
        assert refused.returncode == 3
        assert (
            "cannot create the scratch database on the server of 'default': permission denied"
            in refused.stderr
        )
        assert len(refused.stderr.strip().splitlines()) == 1

        done = made.run("--pending", "--trace", "--trace-database", "tracer", "--format", "json")
        assert done.returncode == 1, done.stderr
        data = json.loads(done.stdout)
        assert data["trace"]["cleanup"] == "dropped"
        (add, _) = statements(data, "0002_book_points")
        assert add["locks"][0]["mode"] == "ACCESS EXCLUSIVE"
        assert scratch_databases() == set()
