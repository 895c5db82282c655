"""A throwaway project with one app, ``bg``, for the plan, fix and blue/green tests.

The database name comes from the ``BG_DB`` environment variable, so one project on disk
can be run against the scratch databases of several tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent

SETTINGS = """
import os

SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["safe_migrations", "bg"]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql", "NAME": os.environ.get("BG_DB", "bg_not_set"),
    "USER": os.environ.get("PGUSER", "postgres"), "HOST": os.environ.get("PGHOST", "127.0.0.1"),
    "PORT": os.environ.get("PGPORT", "5432"),
}}
SAFE_MIGRATIONS = {"POSTGRES_VERSION": 15, "CACHE_DIR": None}
"""


def migration_source(dependencies: list[tuple[str, str]], operations: str, extra: str = "") -> str:
    """A migration file: ``operations`` is the body of the list, as Python source."""
    return (
        "import uuid\n\n"
        "import django.db.models.deletion\n"
        "import django.utils.timezone\n"
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"{textwrap.indent(textwrap.dedent(extra).strip(), '    ') + chr(10) if extra.strip() else ''}"
        f"    dependencies = {dependencies!r}\n"
        "    operations = [\n"
        f"{textwrap.indent(textwrap.dedent(operations).strip(), ' ' * 8)}\n"
        "    ]\n"
    )


@dataclass
class BgProject:
    root: Path

    @property
    def migrations(self) -> Path:
        return self.root / "bg" / "migrations"

    def write(self, name: str, source: str) -> Path:
        path = self.migrations / f"{name}.py"
        path.write_text(source)
        return path

    def files(self) -> list[str]:
        return sorted(p.stem for p in self.migrations.glob("0*.py"))

    def env(self, db: str | None = None) -> dict[str, str]:
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj_settings",
            "PYTHONPATH": os.pathsep.join([str(self.root), str(REPO)]),
        }
        if db:
            environ["BG_DB"] = db
        return environ

    def manage(self, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=self.root,
            env=self.env(db),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def lint(self, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.manage("lintmigrations", "--no-cache", *args, db=db)

    def copy(self, root: Path) -> BgProject:
        shutil.copytree(self.root, root)
        return BgProject(root)

    def drive(self, db: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Run the blue/green driver (tests/bluegreen/driver.py) on database ``db``."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.bluegreen.driver", json.dumps(spec)],
            cwd=self.root,
            env=self.env(db),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def make_bg_project(root: Path, initial: str, change: str | None = None, change_extra: str = "") -> BgProject:
    """``initial``: operations of bg.0001_initial; ``change``: of bg.0002_change."""
    (root / "bg" / "migrations").mkdir(parents=True)
    (root / "bg" / "__init__.py").write_text("")
    (root / "bg" / "migrations" / "__init__.py").write_text("")
    (root / "bg" / "models.py").write_text("")
    (root / "proj_settings.py").write_text(SETTINGS)
    project = BgProject(root)
    project.write("0001_initial", migration_source([], initial, "initial = True"))
    if change is not None:
        project.write("0002_change", migration_source([("bg", "0001_initial")], change, change_extra))
    return project


NOT_NULL_ONE_OFF = (
    'migrations.AlterField("book", "isbn", models.CharField(max_length=20, default="?"), '
    "preserve_default=False),"
)
RENAME_IN_STATE = (
    'migrations.SeparateDatabaseAndState(state_operations=[migrations.RenameModel("Book", "Volume"), '
    'migrations.AlterModelTable("volume", "bg_book")]),'
)


def make_clashing_project(root: Path, initial: str) -> BgProject:
    """bg.0002 needs a split (SET NOT NULL with a one-off default); bg.0003 then renames the
    model in the state only, so the later steps planned for 0002, naming "book", clash."""
    project = make_bg_project(root, initial, NOT_NULL_ONE_OFF)
    project.write("0003_rename_state", migration_source([("bg", "0002_change")], RENAME_IN_STATE, ""))
    return project
