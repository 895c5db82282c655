"""Throwaway Django projects on disk, linted through the real manage.py command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "safe_migrations", "library"]
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql", "NAME": {name!r}, "USER": "postgres",
    "HOST": "127.0.0.1", "PORT": {port!r},
}}}}
# The command tests check behaviour (formats, exit codes, selection), on the first rules.
SAFE_MIGRATIONS = {{
    "POSTGRES_VERSION": 15,
    "CACHE_DIR": {cache!r},
    "SELECT": ["SM000", "SM101", "SM108", "SM109", "SM201", "SM205", "SM301"],
}}
"""

INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),
                ("title", models.CharField(max_length=100)),
                ("fax", models.CharField(max_length=20, null=True)),
            ],
        ),
    ]
"""

ADD_POINTS = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]
    operations = [
        migrations.AddField("book", "points", models.IntegerField(default=0)),
    ]
"""

GROW_TITLE = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0002_book_points")]
    operations = [
        migrations.AlterField("book", "title", models.CharField(max_length=200)),
    ]
"""


@dataclass
class Project:
    root: Path

    @property
    def migrations(self) -> Path:
        return self.root / "library" / "migrations"

    def write(self, name: str, source: str) -> Path:
        path = self.migrations / f"{name}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj_settings",
            "PYTHONPATH": os.pathsep.join([str(self.root), str(REPO)]),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "django", "lintmigrations", *args],
            cwd=self.root,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )


def make_project(
    root: Path, *, db_name: str = "library", port: str = "5432", cache: str | None = None
) -> Project:
    (root / "library" / "migrations").mkdir(parents=True)
    (root / "library" / "__init__.py").write_text("")
    (root / "library" / "migrations" / "__init__.py").write_text("")
    (root / "library" / "models.py").write_text("")
    (root / "proj_settings.py").write_text(SETTINGS.format(name=db_name, port=port, cache=cache))
    project = Project(root)
    project.write("0001_initial", INITIAL)
    project.write("0002_book_points", ADD_POINTS)
    project.write("0003_grow_title", GROW_TITLE)
    return project
