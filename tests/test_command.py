"""The lintmigrations command end to end: output formats, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import django
import pytest

from tests.project import REPO, Project, make_project


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


def test_text_output_and_exit_code_on_errors(project):
    done = project.run("--no-color")
    assert done.returncode == 1, done.stderr
    assert (
        "library/migrations/0002_book_points.py:7  SM205 add-not-null-column-without-db-default [error]"
        in done.stdout
    )
    assert "lock: ACCESS EXCLUSIVE on library_book" in done.stdout
    # The fix follows the installed Django: db_default exists from 5.0 on.
    assert ("db_default=0" if django.VERSION >= (5, 0) else "SeparateDatabaseAndState") in done.stdout
    assert "0003_grow_title" not in done.stdout  # varchar growth is safe
    assert "3 migration(s) linted: 1 error(s)" in done.stdout
    assert "Traceback" not in done.stderr


def test_fail_on_never_exits_zero(project):
    assert project.run("--fail-on", "never").returncode == 0


def test_fail_on_warning_counts_warnings(project):
    project.write(
        "0004_data",
        """
        from django.db import migrations

        def forwards(apps, schema_editor):
            pass

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RunPython(forwards)]
        """,
    )
    assert project.run("library", "0004", "--fail-on", "error").returncode == 0
    assert project.run("library", "0004", "--fail-on", "warning").returncode == 1


def test_json_contract(project):
    done = project.run("--format", "json")
    data = json.loads(done.stdout)
    assert data["version"] == 1
    assert {m["name"] for m in data["migrations"]} == {"0001_initial", "0002_book_points", "0003_grow_title"}
    (finding,) = data["findings"]
    assert set(finding) >= {
        "rule",
        "name",
        "severity",
        "message",
        "app_label",
        "migration",
        "file",
        "line",
        "operation_index",
        "operation",
        "sql",
        "lock",
        "table",
        "fix",
    }
    assert finding["rule"] == "SM205" and finding["line"] == 7 and finding["operation_index"] == 0
    assert finding["file"] == "library/migrations/0002_book_points.py"
    assert set(finding["fix"]) == {"title", "steps", "code"}
    assert data["summary"]["errors"] == 1


def test_sql_format_matches_sqlmigrate_layout(project):
    done = project.run("library", "0002", "--format", "sql")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "-- library.0002_book_points",
        "BEGIN;",
        "--",
        "-- Add field points to book",
        "--",
        'ALTER TABLE "library_book" ADD COLUMN "points" integer DEFAULT 0 NOT NULL;',
        'ALTER TABLE "library_book" ALTER COLUMN "points" DROP DEFAULT;',
        "COMMIT;",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nosuchapp"], "no installed app with label 'nosuchapp'"),
        (["library", "0099"], "no migration library.0099"),
        (["library", "000"], "more than one migration of 'library' starts with '000'"),
        (["--since", "no-such-ref-xyz"], "no-such-ref-xyz"),
    ],
)
def test_usage_errors_exit_2_with_one_line(project, args, message):
    if args[0] == "--since":
        subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
    done = project.run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_several_app_labels_select_those_apps(project):
    data = json.loads(project.run("library", "contenttypes", "--format", "json", "--fail-on", "never").stdout)
    apps_linted = {m["app_label"] for m in data["migrations"]}
    assert apps_linted == {"library", "contenttypes"}
    one = json.loads(project.run("library", "0002", "--format", "json", "--fail-on", "never").stdout)
    assert [(m["app_label"], m["name"]) for m in one["migrations"]] == [("library", "0002_book_points")]


def test_a_migration_replaced_by_a_squash_is_a_clear_error(project):
    project.write(
        "0001_squashed_0002_book_points",
        """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            initial = True
            replaces = [("library", "0001_initial"), ("library", "0002_book_points")]
            dependencies = []
            operations = [
                migrations.CreateModel(
                    name="Book",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True)),
                        ("title", models.CharField(max_length=100)),
                        ("fax", models.CharField(max_length=20, null=True)),
                        ("points", models.IntegerField(default=0)),
                    ],
                ),
            ]
        """,
    )
    done = project.run("library", "0002")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "library.0002_book_points is replaced by the squashed migration" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    squash = json.loads(
        project.run("library", "0001_squashed", "--format", "json", "--fail-on", "never").stdout
    )
    assert [m["name"] for m in squash["migrations"]] == ["0001_squashed_0002_book_points"]


def test_broken_migration_is_named_and_the_rest_still_linted(project):
    project.write("0004_broken", "from django.db import migrations\nclass Migration(migrations.Migration:\n")
    project.write(
        "0005_after",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0004_broken")]
            operations = []
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2
    assert "library/migrations/0004_broken.py: cannot import migration: syntax error" in done.stdout
    assert "0005_after.py: skipped: depends on library.0004_broken" in done.stdout
    assert "SM205" in done.stdout  # the healthy migrations were still linted
    assert "Traceback" not in done.stderr


def test_missing_dependency_is_reported(project):
    project.write(
        "0004_orphan",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title"), ("library", "0002_gone")]
            operations = []
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2
    assert "depends on a migration that does not exist: library.0002_gone" in done.stdout


def test_circular_dependency_is_named_and_the_rest_still_linted(project):
    for name, dep in (("0004_a", "0005_b"), ("0005_b", "0004_a")):
        project.write(
            name,
            f"""
            from django.db import migrations

            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title"), ("library", "{dep}")]
                operations = []
            """,
        )
    project.write(
        "0006_after",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0005_b")]
            operations = []
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "0004_a.py: circular dependency: library.0004_a -> library.0005_b -> library.0004_a" in done.stdout
    ), done.stdout
    assert "0005_b.py: circular dependency" in done.stdout
    assert "0006_after.py: skipped: depends on library.0005_b" in done.stdout
    assert "SM205" in done.stdout  # the healthy migrations were still linted


def test_migration_depending_on_itself(project):
    project.write(
        "0004_self",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0004_self")]
            operations = []
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "0004_self.py: circular dependency: library.0004_self depends on itself" in done.stdout


@pytest.mark.parametrize("dep", ['("delta", "0001_initial")', '("delta", "__first__")'])
def test_dependency_on_an_app_that_is_not_installed(project, dep):
    project.write(
        "0004_elsewhere",
        f"""
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title"), {dep}]
            operations = []
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "0004_elsewhere.py: depends on delta." in done.stdout
    assert "no installed app has the label 'delta'" in done.stdout
    assert "SM205" in done.stdout


def test_naming_a_migration_that_does_not_import_shows_why(project):
    project.write("0004_broken", "from django.db import migrations\nclass Migration(migrations.Migration:\n")
    done = project.run("library", "0004", "--no-color")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "0004_broken.py: cannot import migration: syntax error" in done.stdout + done.stderr


def test_conflicting_leaves_are_reported(project):
    for name in ("0004_a", "0004_b"):
        project.write(
            name,
            """
            from django.db import migrations

            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title")]
                operations = []
            """,
        )
    done = project.run("--no-color")
    assert done.returncode == 2
    assert "conflicting migrations (several leaf nodes): 0004_a, 0004_b" in done.stdout


def test_pending_with_database_down_exits_3(tmp_path):
    project = make_project(tmp_path, port="1")
    done = project.run("--pending")
    assert done.returncode == 3
    assert "database 'default' is unreachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_since_lints_only_changed_migrations(project):
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=project.root, check=True)
    subprocess.run([*git, "checkout", "-qb", "feature"], cwd=project.root, check=True)
    project.write(
        "0004_drop_fax",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RemoveField("book", "fax")]
        """,
    )
    done = project.run("--since", "main", "--format", "json")
    data = json.loads(done.stdout)
    assert [m["name"] for m in data["migrations"]] == ["0004_drop_fax"]
    assert [f["rule"] for f in data["findings"]] == ["SM201"]


def test_cache_gives_same_report(tmp_path):
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    first = project.run("--format", "json")
    second = project.run("--format", "json")
    assert json.loads(first.stdout)["findings"] == json.loads(second.stdout)["findings"]
    assert (tmp_path / "cache" / "collected.pickle").exists()
    assert (tmp_path / "cache" / ".gitignore").exists()


def test_cached_findings_follow_the_rule_selection(tmp_path):
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    only_205 = json.loads(project.run("--format", "json", "--select", "SM205").stdout)["findings"]
    only_109 = json.loads(project.run("--format", "json", "--select", "SM109").stdout)["findings"]
    assert {f["rule"] for f in only_205} == {"SM205"}
    assert {f["rule"] for f in only_109} <= {"SM109"}
    again = json.loads(project.run("--format", "json", "--select", "SM205").stdout)["findings"]
    assert again == only_205


def test_cache_follows_a_sql_file_a_migration_reads(tmp_path):
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    sql = project.migrations / "0004.sql"
    sql.write_text("CREATE INDEX book_fax ON library_book (fax);")
    project.write(
        "0004_runsql",
        """
        from pathlib import Path

        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RunSQL((Path(__file__).parent / "0004.sql").read_text())]
        """,
    )
    assert "CREATE INDEX book_fax" in project.run("--format", "sql").stdout
    sql.write_text("CREATE INDEX CONCURRENTLY book_fax ON library_book (fax);")
    assert "CREATE INDEX CONCURRENTLY book_fax" in project.run("--format", "sql").stdout


def test_cache_follows_a_custom_field_the_project_changes(tmp_path):
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    fields = project.root / "library" / "fields.py"
    source = """
from django.db import models


class Money(models.DecimalField):
    def db_type(self, connection):
        return "numeric(12, 2)"
"""
    fields.write_text(source)
    # Imported by the models too, so the migration does not import it for the first time.
    (project.root / "library" / "models.py").write_text("from library.fields import Money  # noqa\n")
    project.write(
        "0004_book_price",
        """
        from django.db import migrations

        from library.fields import Money

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [
                migrations.AddField("book", "price", Money(max_digits=12, decimal_places=2, null=True))
            ]
        """,
    )
    assert '"price" numeric(12, 2) NULL' in project.run("--format", "sql").stdout
    fields.write_text(source.replace("12, 2", "14, 2"))
    assert '"price" numeric(14, 2) NULL' in project.run("--format", "sql").stdout


ADD_TITLE_INDEX = """
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx"))]
"""


def test_cache_follows_what_project_modules_import_and_the_settings(tmp_path):
    """A constant imported from a helper, a module the custom field's module imports, a setting."""
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    (project.root / "coltypes.py").write_text('CODE_TYPE = "json"\n')
    (project.root / "library" / "fields.py").write_text(
        "import coltypes\nfrom django.db import models\n\n\n"
        "class CodeField(models.Field):\n    def db_type(self, connection):\n        return coltypes.CODE_TYPE\n"
    )
    (project.root / "library" / "sqltext.py").write_text(
        'SQL = "CREATE INDEX fax_idx ON library_book (fax)"\n'
    )
    (project.root / "library" / "models.py").write_text("from library import fields, sqltext  # noqa\n")
    project.write(
        "0004_code_and_sql",
        """
        from django.db import migrations

        from library.fields import CodeField
        from library.sqltext import SQL

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.AddField("book", "code", CodeField(null=True)), migrations.RunSQL(SQL)]
        """,
    )
    first = project.run("--format", "sql").stdout
    assert '"code" json NULL' in first and "CREATE INDEX fax_idx" in first
    (project.root / "coltypes.py").write_text('CODE_TYPE = "varchar(10)"\n')
    (project.root / "library" / "sqltext.py").write_text(
        'SQL = "CREATE INDEX CONCURRENTLY fax_idx ON library_book (fax)"\n'
    )
    second = project.run("--format", "sql").stdout
    assert '"code" varchar(10) NULL' in second and "CREATE INDEX CONCURRENTLY fax_idx" in second


def test_cache_follows_the_settings(tmp_path):
    project = make_project(tmp_path, cache=str(tmp_path / "cache"))
    project.write("0004_book_title_idx", ADD_TITLE_INDEX)
    assert "TABLESPACE" not in project.run("--format", "sql").stdout
    settings = project.root / "proj_settings.py"
    settings.write_text(settings.read_text() + 'DEFAULT_INDEX_TABLESPACE = "fastidx"\n')
    assert 'TABLESPACE "fastidx"' in project.run("--format", "sql").stdout


def test_baseline_accepts_todays_findings_and_fails_on_new_ones(project, tmp_path):
    base = tmp_path / "baseline.json"
    written = project.run("--write-baseline", str(base), "--fail-on", "never")
    assert written.returncode == 0 and "wrote 1 finding(s)" in written.stderr
    adopted = project.run("--baseline", str(base), "--format", "json")
    assert adopted.returncode == 0, adopted.stdout
    data = json.loads(adopted.stdout)
    assert data["findings"] == [] and data["summary"]["suppressed"] == 1
    assert data["suppressed"][0]["suppressed"] == "in the baseline"
    project.write(
        "0004_drop_fax",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RemoveField("book", "fax")]
        """,
    )
    later = project.run("--baseline", str(base), "--format", "json")
    assert later.returncode == 1
    assert [f["rule"] for f in json.loads(later.stdout)["findings"]] == ["SM201"]


def test_bad_baseline_file_is_a_usage_error(project, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = project.run("--baseline", str(bad))
    assert done.returncode == 2 and "cannot read baseline" in done.stderr
    assert "Traceback" not in done.stderr


def test_suppression_in_the_migration_needs_a_reason(project):
    project.write(
        "0004_drop_fax",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            safe_migrations_ignore = {"SM201": "fax was never read by any released code"}
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RemoveField("book", "fax")]
        """,
    )
    project.write(
        "0005_drop_title",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            safe_migrations_ignore = {0: {"drop-column": ""}}
            dependencies = [("library", "0004_drop_fax")]
            operations = [migrations.RemoveField("book", "title")]
        """,
    )
    data = json.loads(project.run("library", "--format", "json").stdout)
    active = {(f["migration"], f["rule"]) for f in data["findings"]}
    assert ("0004_drop_fax", "SM201") not in active
    assert ("0005_drop_title", "SM201") in active  # an empty reason suppresses nothing
    assert data["suppressed"][0]["suppressed"] == "fax was never read by any released code"


def test_runsql_comment_suppresses_with_reason(project):
    project.write(
        "0004_index",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [
                migrations.RunSQL(
                    "-- safe_migrations: ignore SM101 the table holds a dozen rows\\n"
                    'CREATE INDEX "book_title_idx" ON "library_book" ("title")',
                    'DROP INDEX "book_title_idx"',
                ),
            ]
        """,
    )
    data = json.loads(project.run("library", "0004", "--format", "json").stdout)
    assert data["findings"] == []
    assert data["suppressed"][0]["rule"] == "SM101"


def test_pending_lints_only_unapplied_migrations_on_the_real_server(tmp_path):
    import uuid

    import psycopg

    name = f"sm_pending_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        project = make_project(tmp_path, db_name=name)
        env = {"DJANGO_SETTINGS_MODULE": "proj_settings"}
        migrate = subprocess.run(
            [sys.executable, "-m", "django", "migrate", "library", "0001", "-v", "0"],
            cwd=project.root,
            env={**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)])},
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr
        done = project.run("--pending", "--format", "json")
        data = json.loads(done.stdout)
        pending = [(m["app_label"], m["name"]) for m in data["migrations"]]
        assert ("library", "0001_initial") not in pending
        assert ("library", "0002_book_points") in pending and ("library", "0003_grow_title") in pending
        assert data["target"]["mode"] == "pending"
        assert int(data["target"]["server_version"]) >= 15  # the real server's version
        assert [f["rule"] for f in data["findings"] if f["app_label"] == "library"] == ["SM205"]
    finally:
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_pending_reports_an_inconsistent_history(tmp_path):
    import uuid

    import psycopg

    name = f"sm_pending_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        project = make_project(tmp_path, db_name=name)
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj_settings",
            "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)]),
        }
        migrate = subprocess.run(
            [sys.executable, "-m", "django", "migrate", "-v", "0"],
            cwd=project.root,
            env=environ,
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=name, autocommit=True) as db:
            db.execute("DELETE FROM django_migrations WHERE app = 'library' AND name = '0002_book_points'")
        done = project.run("--pending", "--no-color")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert (
            "Migration library.0003_grow_title is applied before its dependency library.0002_book_points "
            "on database 'default': migrate would refuse to run" in done.stdout
        ), done.stdout
    finally:
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_server_older_than_django_supports_is_a_warning_not_a_failure(project):
    done = project.run("--pg-version", "11", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    assert "warning: Django" in done.stderr and "migrate would refuse PostgreSQL 11" in done.stderr
    assert "warning:" not in project.run("--pg-version", "18", "--fail-on", "never").stderr


def test_a_cache_that_cannot_be_written_is_a_warning_not_an_error(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    project = make_project(tmp_path / "p", cache=str(tmp_path / "not-a-dir" / "cache"))
    done = project.run("--no-color")
    assert done.returncode == 1, done.stdout + done.stderr  # the findings decide, as without a cache
    assert "warning: cache not written" in done.stderr
    assert "could not be loaded" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_write_baseline_to_a_bad_path_is_one_line(project, tmp_path):
    (tmp_path / "file").write_text("")
    done = project.run("--write-baseline", str(tmp_path / "file" / "baseline.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("CommandError: --write-baseline ")


def test_a_latin1_migration_keeps_its_line_numbers_and_can_be_fixed(project):
    source = (
        "# -*- coding: latin-1 -*-\n"
        "from django.db import migrations\n"
        "\n"
        "NOTE = 'caf\xe9'\n"
        "\n"
        "\n"
        "class Migration(migrations.Migration):\n"
        "    dependencies = [('library', '0003_grow_title')]\n"
        "    operations = [\n"
        "        migrations.RemoveField('book', 'fax'),\n"
        "    ]\n"
    )
    (project.migrations / "0004_drop_fax.py").write_bytes(source.encode("latin-1"))
    done = project.run("library", "0004", "--no-color")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "library/migrations/0004_drop_fax.py:10  SM201" in done.stdout
    fixed = project.run("library", "0004", "--fix", "--dry-run", "--no-color")
    assert "Traceback" not in fixed.stderr, fixed.stderr
    assert "0004_drop_fax.py" in fixed.stdout


def test_since_in_a_shallow_clone_says_what_to_fetch(project, tmp_path):
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=project.root, check=True)
    subprocess.run([*git, "checkout", "-qb", "feature"], cwd=project.root, check=True)
    for n in range(2):
        (project.root / f"note{n}.txt").write_text(str(n))
        subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
        subprocess.run([*git, "commit", "-qm", f"feature {n}"], cwd=project.root, check=True)
    subprocess.run([*git, "checkout", "-q", "main"], cwd=project.root, check=True)
    (project.root / "main.txt").write_text("moved on")
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "main moves"], cwd=project.root, check=True)
    clone = tmp_path / "clone"
    url = f"file://{project.root}"
    subprocess.run([*git, "clone", "-q", "--depth", "1", "-b", "feature", url, str(clone)], check=True)
    subprocess.run(
        [*git, "fetch", "-q", "--depth", "1", "origin", "main:refs/remotes/origin/main"],
        cwd=clone,
        check=True,
    )
    shallow = Project(clone)
    done = shallow.run("--since", "origin/main")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "shallow clone" in done.stderr and "fetch-depth: 0" in done.stderr


def test_a_migrations_folder_without_init_is_a_warning(project):
    (project.migrations / "__init__.py").unlink()
    done = project.run("--no-color")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: app 'library':" in done.stderr
    assert "has migration files but no __init__.py" in done.stderr


def test_auto_to_big_auto_alone_alters_the_sequence_like_the_full_run(project):
    project.write(
        "0004_thing",
        """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [
                migrations.CreateModel("Thing", [("id", models.AutoField(primary_key=True))]),
            ]
        """,
    )
    project.write(
        "0005_thing_big",
        """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            dependencies = [("library", "0004_thing")]
            operations = [
                migrations.AlterField("thing", "id", models.BigAutoField(primary_key=True)),
            ]
        """,
    )
    full = project.run("--format", "sql", "--no-cache", "library").stdout
    alone = project.run("--format", "sql", "--no-cache", "library", "0005").stdout
    assert 'ALTER SEQUENCE IF EXISTS "library_thing_id_seq" AS bigint;' in alone, alone
    assert alone.strip() in full


def test_an_error_on_a_conflicting_branch_says_why(project):
    project.write(
        "0004_a",
        """
        from django.db import migrations

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.RemoveField("book", "fax")]
        """,
    )
    project.write(
        "0004_b",
        """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            dependencies = [("library", "0003_grow_title")]
            operations = [migrations.AlterField("book", "fax", models.CharField(max_length=40, null=True))]
        """,
    )
    done = project.run("--no-color")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "conflicting migrations (several leaf nodes): 0004_a, 0004_b" in done.stdout
    assert "cannot generate SQL" in done.stdout, done.stdout
    assert "its branches were walked one after the other" in done.stdout


def _use_sqlite(project):
    """The project's default database becomes a SQLite file (another engine than PostgreSQL)."""
    settings = project.root / "proj_settings.py"
    settings.write_text(
        settings.read_text()
        + 'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}\n'
    )


def test_plan_and_fix_on_another_engine_are_refused_in_one_line(project):
    _use_sqlite(project)
    for option in ("--plan", "--fix"):
        done = project.run(option)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert "--plan and --fix write PostgreSQL sequences; the database 'default' is sqlite" in done.stderr
    assert not (project.root / "db.sqlite3").exists() or (project.root / "db.sqlite3").stat().st_size == 0


def test_json_names_the_real_server_version_on_another_engine(project):
    import sqlite3

    _use_sqlite(project)
    done = project.run("--format", "json", "--fail-on", "never")
    assert done.returncode == 0, done.stderr
    target = json.loads(done.stdout)["target"]
    assert target["vendor"] == "sqlite"
    assert target["server_version"] == sqlite3.sqlite_version  # was "0"


def test_ctrl_c_while_the_report_is_written_is_one_line(tmp_path):
    # The interrupt handler covered lint() only: a Ctrl-C while printing was a traceback.
    project = make_project(tmp_path / "proj")
    script = (
        "import django\n"
        "django.setup()\n"
        "from safe_migrations import reporters\n"
        "def render(*args, **kwargs):\n"
        "    raise KeyboardInterrupt\n"
        "reporters.FORMATS['text'] = render\n"
        "from django.core.management import call_command\n"
        "call_command('lintmigrations', '--no-cache')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proj_settings",
        "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project.root, env=env, capture_output=True, text=True, timeout=300
    )
    assert "CommandError: interrupted by SIGINT" in done.stderr, done.stderr[-2000:]
    assert "KeyboardInterrupt" not in done.stderr


def test_load_errors_come_in_the_same_order_on_every_run(tmp_path):
    # Before Django 6.1 the loader finds migration modules through a set: string hashing is
    # randomised per process, so the errors came in a different order from run to run.
    project = make_project(tmp_path / "proj")
    for name in ("0004_d", "0005_a", "0006_c", "0007_b"):
        project.write(
            name,
            f"""
            import missing_{name[5:]}
            from django.db import migrations

            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title")]
            """,
        )
    seen = []
    for seed in ("0", "1", "2", "3"):
        done = project.run("--no-cache", "--no-color", env={"PYTHONHASHSEED": seed})
        assert done.returncode == 2, done.stderr[-2000:]
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "missing_" in line]
        assert len(lines) == 4, done.stdout + done.stderr
        seen.append(lines)
    assert all(lines == seen[0] for lines in seen)
    assert [line.split("missing_")[1][0] for line in seen[0]] == ["d", "a", "c", "b"]  # by file name


DROP_FAX = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.RemoveField("book", "fax")]
"""


def test_conflicting_branches_that_cannot_both_apply_are_errors_not_a_traceback(tmp_path):
    # Two leaves made from one migration (a copy): the second branch removes a field the
    # first already removed, so its state change fails while the branches are walked.
    project = make_project(tmp_path / "proj")
    project.write("0004_drop_fax", DROP_FAX)
    project.write("0004_drop_fax_copy", DROP_FAX)
    project.write(
        "0005_after",
        DROP_FAX.replace('("library", "0003_grow_title")', '("library", "0004_drop_fax_copy")')
        .replace(
            'migrations.RemoveField("book", "fax")',
            'migrations.AddField("book", "isbn", models.TextField(null=True))',
        )
        .replace("from django.db import migrations", "from django.db import migrations, models"),
    )
    for args, what in (
        ((), "cannot generate SQL"),
        (("library", "0005_after"), "cannot apply it to the model state"),
    ):
        # the failing migration linted, then only walked (not selected)
        done = project.run("--no-cache", "--no-color", *args)
        assert what in done.stdout + done.stderr
        assert done.returncode == 2, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        out = done.stdout + done.stderr
        assert "conflicting migrations (several leaf nodes): 0004_drop_fax, 0005_after" in out
        assert "KeyError: 'fax'" in out and "0004_drop_fax" in out
    assert "0005_after" in done.stdout  # linted after the branch that could not be applied
