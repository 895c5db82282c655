"""Multi-app Django projects on disk with a git history of known dates, for squashplan tests.

``build_shop`` writes the project the tests share (every app is one case):

* ``billing``  due (5 migrations, the oldest 400 days old); an elidable RunPython.
* ``catalog``  clean: 2 recent migrations; depends on a migration ``shop``'s squash replaced.
* ``shop``     a squash (0001_squashed_0003) whose old files are still there: cleanup.
* ``legacy``   due, but blocked: a non-elidable RunPython defined in the migration module.
* ``orders``   due; ``reviews.0001`` depends on ``orders.0002`` and ``orders.0004`` on
               ``reviews.0001``: the range must end before 0004. A non-elidable RunSQL and a
               non-elidable RunPython with an importable function (both kept).
* ``reviews``  one migration.
* ``search``   due; an elidable RunSQL that creates an index: the squash drops it, so --run's
               schema comparison fails and the squash is removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

AS_OF = "2025-06-01"
AS_OF_TIME = datetime(2025, 6, 1, tzinfo=timezone.utc)

SETTINGS = """
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "safe_migrations", *{apps!r}]
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql", "NAME": {name!r}, "USER": "postgres",
    "HOST": "127.0.0.1", "PORT": {port!r},
}}}}
SAFE_MIGRATIONS = {{"CACHE_DIR": None, "POSTGRES_VERSION": 15, "SQUASH": {{"COUNT": 4, "AGE_DAYS": 60}}}}
"""


@dataclass
class SquashProject:
    root: Path
    apps: list[str]

    def path(self, app: str, name: str) -> Path:
        return self.root / app / "migrations" / f"{name}.py"

    def add_app(self, app: str, files: dict[str, str] | None = None) -> None:
        package = self.root / app
        (package / "migrations").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "models.py").write_text("")
        (package / "migrations" / "__init__.py").write_text("")
        for name, source in (files or {}).items():
            (package / name).write_text(textwrap.dedent(source).lstrip())
        self.apps.append(app)

    def write(self, app: str, name: str, source: str) -> Path:
        path = self.path(app, name)
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def settings(self, db_name: str, port: str = "5432") -> None:
        (self.root / "proj_settings.py").write_text(SETTINGS.format(apps=self.apps, name=db_name, port=port))

    def git(self, *args: str, days_ago: int | None = None) -> str:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        if days_ago is not None:
            moment = int((AS_OF_TIME - timedelta(days=days_ago)).timestamp())
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{moment} +0000"
        done = subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def commit(self, message: str, days_ago: int) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, days_ago=days_ago)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj_settings",
            "PYTHONPATH": os.pathsep.join([str(self.root), str(REPO)]),
            "GIT_CONFIG_GLOBAL": os.devnull,
        }

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )

    def squashplan(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.manage("squashplan", "--as-of", AS_OF, "--no-color", *args)


def _model(name: str, *fields: str) -> str:
    body = "".join(f"\n                ({f})," for f in fields)
    return f"""
        migrations.CreateModel(
            name="{name}",
            fields=[
                ("id", models.BigAutoField(primary_key=True)),{body}
            ],
        )"""


def migration(
    dependencies: list[tuple[str, str]], operations: str, *, head: str = "", extra: str = ""
) -> str:
    return f"""
from django.db import migrations, models
{head}

class Migration(migrations.Migration):
{extra}    dependencies = {dependencies!r}
    operations = [{operations}
    ]
"""


# (app, name, days before AS_OF, source): written and committed oldest first.
SHOP: list[tuple[str, str, int, str]] = [
    # shop: squashed long ago, old files kept; one migration since.
    (
        "shop",
        "0001_initial",
        500,
        migration([], _model("Cart", '"label", models.CharField(max_length=50)') + ","),
    ),
    (
        "shop",
        "0002_cart_note",
        480,
        migration(
            [("shop", "0001_initial")],
            '\n        migrations.AddField("cart", "note", models.TextField(default="")),',
        ),
    ),
    (
        "shop",
        "0003_cart_total",
        460,
        migration(
            [("shop", "0002_cart_note")],
            '\n        migrations.AddField("cart", "total", models.IntegerField(null=True)),',
        ),
    ),
    (
        "shop",
        "0001_squashed_0003_cart_total",
        200,
        migration(
            [],
            _model(
                "Cart",
                '"label", models.CharField(max_length=50)',
                '"note", models.TextField(default="")',
                '"total", models.IntegerField(null=True)',
            )
            + ",",
            extra="    replaces = [('shop', '0001_initial'), ('shop', '0002_cart_note'), ('shop', '0003_cart_total')]\n"
            "    initial = True\n",
        ),
    ),
    # billing: due; 0004 is an elidable data migration.
    (
        "billing",
        "0001_initial",
        400,
        migration([], _model("Invoice", '"number", models.CharField(max_length=20)') + ","),
    ),
    (
        "billing",
        "0002_invoice_total",
        350,
        migration(
            [("billing", "0001_initial")],
            '\n        migrations.AddField("invoice", "total", models.DecimalField(max_digits=10, decimal_places=2, default=0)),',
        ),
    ),
    (
        "billing",
        "0003_invoice_number_index",
        300,
        migration(
            [("billing", "0002_invoice_total")],
            '\n        migrations.AlterField("invoice", "number", models.CharField(max_length=20, db_index=True)),',
        ),
    ),
    (
        "billing",
        "0004_fill_totals",
        250,
        migration(
            [("billing", "0003_invoice_number_index")],
            "\n        migrations.RunPython(fill_totals, migrations.RunPython.noop, elidable=True),",
            head="\n\ndef fill_totals(apps, schema_editor):\n    apps.get_model('billing', 'Invoice').objects.update(total=1)\n",
        ),
    ),
    (
        "billing",
        "0005_invoice_paid",
        200,
        migration(
            [("billing", "0004_fill_totals")],
            '\n        migrations.AddField("invoice", "paid", models.BooleanField(default=False)),',
        ),
    ),
    # legacy: due, blocked by a data migration the squash cannot import.
    (
        "legacy",
        "0001_initial",
        300,
        migration([], _model("Note", '"title", models.CharField(max_length=30)') + ","),
    ),
    (
        "legacy",
        "0002_note_body",
        290,
        migration(
            [("legacy", "0001_initial")],
            '\n        migrations.AddField("note", "body", models.TextField(default="")),',
        ),
    ),
    (
        "legacy",
        "0003_fill_body",
        280,
        migration(
            [("legacy", "0002_note_body")],
            "\n        migrations.RunPython(fill_body),",
            head="\n\ndef fill_body(apps, schema_editor):\n    apps.get_model('legacy', 'Note').objects.update(body='-')\n",
        ),
    ),
    (
        "legacy",
        "0004_note_done",
        270,
        migration(
            [("legacy", "0003_fill_body")],
            '\n        migrations.AddField("note", "done", models.BooleanField(default=False)),',
        ),
    ),
    # orders <-> reviews: a cross-app dependency in the middle of orders' range.
    (
        "orders",
        "0001_initial",
        300,
        migration([], _model("Order", '"code", models.CharField(max_length=10)') + ","),
    ),
    (
        "orders",
        "0002_order_comment",
        290,
        migration(
            [("orders", "0001_initial")],
            "\n        migrations.RunSQL(\"COMMENT ON TABLE orders_order IS 'customer orders'\", migrations.RunSQL.noop),",
        ),
    ),
    (
        "reviews",
        "0001_initial",
        285,
        migration(
            [("orders", "0002_order_comment")],
            _model("Review", '"order", models.ForeignKey("orders.Order", models.CASCADE)') + ",",
            extra="    initial = True\n",
        ),
    ),
    (
        "orders",
        "0003_order_note",
        280,
        migration(
            [("orders", "0002_order_comment")],
            '\n        migrations.AddField("order", "note", models.TextField(default="")),'
            "\n        migrations.RunPython(orders.data.touch, migrations.RunPython.noop),",
            head="import orders.data\n",
        ),
    ),
    (
        "orders",
        "0004_order_review",
        270,
        migration(
            [("orders", "0003_order_note"), ("reviews", "0001_initial")],
            '\n        migrations.AddField("order", "review", models.ForeignKey("reviews.Review", models.SET_NULL, null=True)),',
        ),
    ),
    (
        "orders",
        "0005_order_closed",
        260,
        migration(
            [("orders", "0004_order_review")],
            '\n        migrations.AddField("order", "closed", models.BooleanField(default=False)),',
        ),
    ),
    # search: due; the squash drops an elidable RunSQL that made an index.
    (
        "search",
        "0001_initial",
        300,
        migration([], _model("Doc", '"title", models.CharField(max_length=100)') + ","),
    ),
    (
        "search",
        "0002_doc_title_upper",
        290,
        migration(
            [("search", "0001_initial")],
            '\n        migrations.RunSQL("CREATE INDEX search_doc_title_upper ON search_doc (upper(title))",'
            ' "DROP INDEX search_doc_title_upper", elidable=True),',
        ),
    ),
    (
        "search",
        "0003_doc_body",
        280,
        migration(
            [("search", "0002_doc_title_upper")],
            '\n        migrations.AddField("doc", "body", models.TextField(default="")),',
        ),
    ),
    (
        "search",
        "0004_doc_lang",
        270,
        migration(
            [("search", "0003_doc_body")],
            '\n        migrations.AddField("doc", "lang", models.CharField(max_length=5, default="en")),',
        ),
    ),
    # catalog: clean, two recent migrations; 0001 depends on a migration shop's squash replaced.
    (
        "catalog",
        "0001_initial",
        30,
        migration(
            [("shop", "0002_cart_note")],
            _model("Product", '"name", models.CharField(max_length=50)') + ",",
            extra="    initial = True\n",
        ),
    ),
    (
        "catalog",
        "0002_product_sku",
        10,
        migration(
            [("catalog", "0001_initial")],
            '\n        migrations.AddField("product", "sku", models.CharField(max_length=12, null=True)),',
        ),
    ),
    # shop after its squash: new migrations name the squash.
    (
        "shop",
        "0004_cart_closed",
        20,
        migration(
            [("shop", "0001_squashed_0003_cart_total")],
            '\n        migrations.AddField("cart", "closed", models.BooleanField(default=False)),',
        ),
    ),
]

APPS = ["shop", "billing", "legacy", "orders", "reviews", "search", "catalog"]
EXTRA_FILES = {"orders": {"data.py": "def touch(apps, schema_editor):\n    pass\n"}}


def build_shop(root: Path, db_name: str, *, git: bool = True, port: str = "5432") -> SquashProject:
    """The shared project; with ``git`` each migration is committed on its date, oldest first."""
    project = SquashProject(root, [])
    for app in APPS:
        project.add_app(app, EXTRA_FILES.get(app))
    project.settings(db_name, port)
    if git:
        project.git("init", "-q", "-b", "main")
        project.commit("project skeleton", days_ago=600)
    for app, name, days_ago, source in sorted(SHOP, key=lambda item: -item[2]):
        project.write(app, name, source)
        if git:
            project.commit(f"{app}.{name}", days_ago=days_ago)
        else:
            moment = (AS_OF_TIME - timedelta(days=days_ago)).timestamp()
            os.utime(project.path(app, name), (moment, moment))
    return project
