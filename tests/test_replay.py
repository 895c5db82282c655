"""python -m safe_migrations: a repeated run with nothing changed is answered without Django,
and anything the run read (a migration, a file a migration opens, a new file) invalidates it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.project import REPO, Project, make_project

ADD_FAX_INDEX = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [
        migrations.AddIndex("book", models.Index(fields=["fax"], name="book_fax_idx")),
    ]
"""

RUNSQL_FROM_FILE = """
from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).parent / "0004.sql").read_text()


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.RunSQL(SQL, migrations.RunSQL.noop)]
"""


STARTED = """
import os

# Appends a line each time Django imports this app (the tests' probe for django.setup()).
with open(os.environ["STARTED_LOG"], "a") as log:
    log.write("started\\n")
"""


def run(
    project: Project, *args: str, env: dict[str, str] | None = None, settings: str | None = "proj_settings"
) -> subprocess.CompletedProcess[str]:
    """The module entry point; STARTED_LOG counts the runs that populated the app registry."""
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)]),
        "STARTED_LOG": str(project.root.parent / "started.log"),
        **(env or {}),
    }
    environ.pop("SAFE_MIGRATIONS_NO_CACHE", None)
    environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as Python runs by default: modules from byte code
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    if settings is not None:
        environ["DJANGO_SETTINGS_MODULE"] = settings
    return subprocess.run(
        [sys.executable, "-m", "safe_migrations", *args],
        cwd=project.root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


class Probe:
    def __init__(self, project: Project) -> None:
        self.log = project.root.parent / "started.log"
        self.seen = 0

    def started(self) -> bool:
        """Whether Django was started since the last call."""
        count = len(self.log.read_text().splitlines()) if self.log.exists() else 0
        started, self.seen = count > self.seen, count
        return started


@pytest.fixture
def project(tmp_path: Path) -> Project:
    made = make_project(tmp_path / "proj", cache=str(tmp_path / "cache"))
    (made.root / "library" / "__init__.py").write_text(STARTED)
    return made


@pytest.fixture
def probe(project: Project) -> Probe:
    return Probe(project)


def records(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "replay").glob("*.pickle"))


def test_second_run_replays_without_starting_django(project: Project, probe: Probe) -> None:
    first = run(project, "--no-color")
    assert first.returncode == 1, first.stderr[-2000:]
    assert probe.started()
    assert "SM205" in first.stdout
    second = run(project, "--no-color")
    assert not probe.started()
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout)
    # The same as manage.py lintmigrations prints.
    assert project.run("--no-color", env={"STARTED_LOG": str(probe.log)}).stdout == first.stdout


def test_other_arguments_are_another_record(project: Project, probe: Probe, tmp_path: Path) -> None:
    text = run(project, "--no-color")
    as_json = run(project, "--format", "json")
    assert as_json.stdout.startswith("{") and as_json.stdout != text.stdout
    probe.started()
    again = run(project, "--format", "json")
    assert not probe.started() and again.stdout == as_json.stdout
    assert len(records(tmp_path)) == 2


def test_a_changed_migration_is_linted_again(project: Project, probe: Probe) -> None:
    run(project, "--no-color")
    probe.started()
    migration = project.migrations / "0002_book_points.py"
    # (a different size: Python trusts byte code whose source kept its size within a second)
    migration.write_text(migration.read_text().replace("default=0", "null=True") + "# changed\n")
    changed = run(project, "--no-color")
    assert probe.started()
    assert "SM205" not in changed.stdout and changed.returncode == 0


def test_a_new_migration_file_is_linted(project: Project, probe: Probe) -> None:
    run(project, "--no-color")
    probe.started()
    project.write("0004_book_fax_idx", ADD_FAX_INDEX)
    added = run(project, "--no-color")
    assert probe.started()
    assert "SM101" in added.stdout


def test_a_file_a_migration_reads_is_tracked(project: Project, probe: Probe) -> None:
    (project.migrations / "0004.sql").write_text("CREATE INDEX book_fax ON library_book (fax);")
    project.write("0004_runsql", RUNSQL_FROM_FILE)
    first = run(project, "--no-color")
    assert "SM101" in first.stdout
    probe.started()
    run(project, "--no-color")
    assert not probe.started()
    (project.migrations / "0004.sql").write_text("CREATE INDEX CONCURRENTLY book_fax ON library_book (fax);")
    changed = run(project, "--no-color")
    assert probe.started()
    assert "SM101" not in changed.stdout


def test_environment_is_part_of_the_key(project: Project, probe: Probe) -> None:
    run(project, "--no-color")
    probe.started()
    run(project, "--no-color", env={"SOME_SETTING_INPUT": "1"})
    assert probe.started()


@pytest.mark.parametrize("args", [("--since", "HEAD"), ("--no-cache",), ("--pend",)])
def test_runs_that_need_more_than_files_are_never_recorded(
    project: Project, tmp_path: Path, args: tuple[str, ...]
) -> None:
    run(project, *args)
    assert records(tmp_path) == []


def test_a_failed_run_is_not_recorded(project: Project, tmp_path: Path) -> None:
    project.write("0004_broken", "this is not python\n")
    broken = run(project)
    assert broken.returncode == 2
    assert records(tmp_path) == []


def test_settings_errors_are_one_line(project: Project) -> None:
    bad = run(project, settings="no_such_settings")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "error: python -m safe_migrations: cannot load the settings 'no_such_settings': "
        "ModuleNotFoundError: No module named 'no_such_settings'"
    ]


def test_a_project_that_does_not_start_is_one_line(project: Project) -> None:
    (project.root / "library" / "models.py").write_text("class Book(:\n")
    bad = run(project)
    assert bad.returncode == 2, bad.stderr
    (line,) = bad.stderr.splitlines()
    assert line.startswith("error: python -m safe_migrations: cannot start Django: SyntaxError: ")
    assert "models.py, line 1)" in line
    assert "Traceback" in run(project, "--traceback").stderr


def test_a_migrations_folder_that_becomes_a_package_is_seen(project: Project, tmp_path: Path) -> None:
    init = project.migrations / "__init__.py"
    init.unlink()  # Django: an app without migrations
    first = run(project, "--no-color")
    assert first.returncode == 0 and "0 migration(s) linted" in first.stdout, first.stdout + first.stderr
    assert records(tmp_path)
    init.write_text("")
    again = run(project, "--no-color")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "3 migration(s) linted" in again.stdout


def test_settings_are_read_from_manage_py(project: Project) -> None:
    (project.root / "manage.py").write_text(
        'import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj_settings")\n'
    )
    found = run(project, "--no-color", settings=None)
    assert found.returncode == 1 and "SM205" in found.stdout
    os.remove(project.root / "manage.py")
    missing = run(project, settings=None)
    assert missing.returncode == 2 and "no Django settings" in missing.stderr


def test_a_file_only_tested_for_existence_is_tracked(project: Project, probe: Probe) -> None:
    settings = project.root / "proj_settings.py"
    settings.write_text(
        settings.read_text()
        + "import os\n"
        + "if os.path.exists(os.path.join(os.path.dirname(__file__), 'conf', 'never')):\n"
        + "    SAFE_MIGRATIONS['FAIL_ON'] = 'never'\n"
    )
    (project.root / "conf").mkdir()
    assert run(project).returncode == 1
    probe.started()
    assert run(project).returncode == 1 and not probe.started()
    (project.root / "conf" / "never").write_text("")
    assert run(project).returncode == 0 and probe.started()


def test_an_optional_settings_module_that_failed_to_import_is_tracked(project: Project) -> None:
    settings = project.root / "proj_settings.py"
    settings.write_text(
        settings.read_text()
        + "try:\n    from local_settings import *  # noqa\nexcept ImportError:\n    pass\n"
    )
    local = project.root / "local_settings.py"
    local.write_text(
        "import no_such_module  # noqa\nSAFE_MIGRATIONS = {'POSTGRES_VERSION': 15, 'FAIL_ON': 'never'}\n"
    )
    assert run(project).returncode == 1
    os.utime(settings, ns=(time.time_ns(), time.time_ns()))
    assert run(project).returncode == 1  # recorded again, local_settings now from its byte code
    local.write_text(local.read_text().replace("import no_such_module  # noqa\n", ""))
    assert run(project).returncode == 0


def test_a_run_that_connected_to_a_database_is_not_recorded(project: Project, tmp_path: Path) -> None:
    settings = project.root / "proj_settings.py"
    settings.write_text(
        settings.read_text()
        + f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', 'NAME': {str(tmp_path / 'db')!r}}}}}\n"
    )
    assert run(project).returncode in (0, 1)
    assert records(tmp_path) == []


def test_interpreter_options_are_part_of_the_key(project: Project, probe: Probe) -> None:
    run(project, "--no-color")
    probe.started()
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "proj_settings", "STARTED_LOG": str(probe.log)}
    environ["PYTHONPATH"] = os.pathsep.join([str(project.root), str(REPO)])
    environ.pop("SAFE_MIGRATIONS_NO_CACHE", None)
    subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-m", "safe_migrations", "--no-color"],
        cwd=project.root,
        env=environ,
        capture_output=True,
        timeout=300,
    )
    assert probe.started()


COLLECTED_PROBE = """
import os

from django.db import migrations


class Logged(migrations.RunSQL):
    # Its SQL is generated only when the migration is not answered from the cache.
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        with open(os.environ["COLLECTED_LOG"], "a") as log:
            log.write("collected\\n")
        super().database_forwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [Logged("SELECT 1", migrations.RunSQL.noop)]
"""

MANAGE_PY = """
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj_settings")
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""


@pytest.mark.parametrize("first", ["manage.py", "python -m"])
def test_manage_py_and_python_m_share_the_cache(project: Project, tmp_path: Path, first: str) -> None:
    # The entry script (manage.py is the project's own code) and package metadata read
    # before the command starts under python -m are not inputs of the migrations' SQL.
    project.write("0004_logged", COLLECTED_PROBE)
    (project.root / "manage.py").write_text(MANAGE_PY)
    log = tmp_path / "collected.log"
    env = {"COLLECTED_LOG": str(log), "STARTED_LOG": str(tmp_path / "started.log")}

    def manage_py() -> subprocess.CompletedProcess[str]:
        environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)]), **env}
        environ.pop("DJANGO_SETTINGS_MODULE", None)
        return subprocess.run(
            [sys.executable, "manage.py", "lintmigrations", "--no-color"],
            cwd=project.root,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )

    runs = [manage_py, lambda: run(project, "--no-color", env=env, settings=None)]
    if first == "python -m":
        runs.reverse()
    done = runs[0]()
    assert done.returncode == 1 and "SM205" in done.stdout, done.stderr[-2000:]
    assert log.read_text().count("collected") == 1
    again = runs[1]()
    assert again.returncode == 1, again.stderr[-2000:]
    assert again.stdout == done.stdout
    assert log.read_text().count("collected") == 1  # answered from the cache the other one filled
