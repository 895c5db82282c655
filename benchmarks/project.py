"""Write the throw-away Django projects the benchmark runs against.

Each project is a directory with ``manage.py``, a ``benchsettings`` package and
its apps, made a git repository with one commit (so ``--since HEAD`` has a
base).  One settings module per tool, all sharing ``benchsettings.base``:

* ``benchsettings.plain`` - the project alone (floors and the django.setup() baseline of peers)
* ``benchsettings.ours``  - plus ``safe_migrations``
* ``benchsettings.dml``   - plus ``django_migration_linter`` (its command is also ``lintmigrations``)
* ``benchsettings.dsm``   - plus ``django_safe_migrations`` (it reads a ``SAFE_MIGRATIONS`` setting too)

The database settings come from the environment (``BENCH_PG_*``, ``BENCH_DB_NAME``)
so a scratch database can be created per run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import synth

MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsettings.plain")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

BASE_SETTINGS = """\
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "benchsettings.urls"
STATIC_URL = "/static/"
MEDIA_ROOT = str(BASE_DIR / "media")
STATIC_ROOT = str(BASE_DIR / "static")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_DB_NAME", "postgres"),
        "USER": os.environ.get("BENCH_PG_USER", "postgres"),
        "PASSWORD": os.environ.get("BENCH_PG_PASSWORD", ""),
        "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
    }
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

CONTRIB_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
"""

SYNTH_APPS = """\
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"] + {labels!r}
"""

WAGTAIL_APPS = """\
WAGTAIL_SITE_NAME = "bench"
WAGTAILADMIN_BASE_URL = "http://localhost"
INSTALLED_APPS = CONTRIB_APPS + [
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.search_promotions",
    "wagtail.contrib.settings",
    "wagtail.contrib.simple_translation",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.locales",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "benchlocal",
]
MIDDLEWARE = MIDDLEWARE + ["wagtail.contrib.redirects.middleware.RedirectMiddleware"]
"""

OSCAR_APPS = """\
from oscar.defaults import *  # noqa: E402,F403  (Oscar's documented settings layout)

SITE_ID = 1
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
INSTALLED_APPS = CONTRIB_APPS + [
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "django_tables2",
    "benchlocal",
]
MIDDLEWARE = MIDDLEWARE + ["oscar.apps.basket.middleware.BasketMiddleware"]
TEMPLATES[0]["OPTIONS"]["context_processors"] += [
    "oscar.apps.search.context_processors.search_form",
    "oscar.apps.checkout.context_processors.checkout",
    "oscar.apps.communication.notifications.context_processors.notifications",
    "oscar.core.context_processors.metadata",
]
"""

TOOL_SETTINGS = {
    "plain": "from .base import *  # noqa: F403\n",
    "ours": (
        "import os\n\n"
        "from .base import *  # noqa: F403\n\n"
        'INSTALLED_APPS = INSTALLED_APPS + ["safe_migrations"]  # noqa: F405\n'
        'if os.environ.get("BENCH_OURS_CACHE_DIR"):\n'
        '    SAFE_MIGRATIONS = {"CACHE_DIR": os.environ["BENCH_OURS_CACHE_DIR"]}\n'
    ),
    "dml": (
        "from .base import *  # noqa: F403\n\n"
        'INSTALLED_APPS = INSTALLED_APPS + ["django_migration_linter"]  # noqa: F405\n'
    ),
    "dsm": (
        "from .base import *  # noqa: F403\n\n"
        'INSTALLED_APPS = INSTALLED_APPS + ["django_safe_migrations"]  # noqa: F405\n'
    ),
}

# A small first-party app on top of a real history, so `--since` has a file to change.
LOCAL_MIGRATIONS = {
    "0001_initial": """\
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [({dep_app!r}, "__latest__")]

    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                ("target", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                             related_name="+", to={dep_model!r})),
            ],
        ),
    ]
""",
    "0002_note_body": """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchlocal", "0001_initial")]

    operations = [
        migrations.AddField(model_name="note", name="body", field=models.TextField(null=True)),
    ]
""",
    "0003_note_rank": """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchlocal", "0002_note_body")]

    operations = [
        migrations.AddField(model_name="note", name="rank", field=models.IntegerField(default=0)),
        migrations.AddIndex(model_name="note", index=models.Index(fields=["rank"], name="benchlocal_rank_ix")),
    ]
""",
}

REAL = {
    # name: (settings body, first-party app the local app points at, model, app-module prefix)
    "wagtail": (WAGTAIL_APPS, "wagtailcore", "wagtailcore.page", "wagtail"),
    "oscar": (OSCAR_APPS, "catalogue", "catalogue.product", "oscar"),
}

GITIGNORE = "__pycache__/\n.safe_migrations_cache/\n.dsm_cache.json\nmedia/\nstatic/\n"


def _write_common(root: Path, apps_body: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manage.py").write_text(MANAGE_PY)
    pkg = root / "benchsettings"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "urls.py").write_text("urlpatterns = []\n")
    (pkg / "base.py").write_text(BASE_SETTINGS + "\n" + apps_body)
    for name, body in TOOL_SETTINGS.items():
        (pkg / f"{name}.py").write_text(body)
    (root / ".gitignore").write_text(GITIGNORE)


def make_synthetic(root: Path, n_migrations: int, seed: int) -> dict:
    labels = synth.generate(root, n_migrations, seed=seed)
    _write_common(root, SYNTH_APPS.format(labels=labels))
    return {"labels": labels, "change": lambda: synth.change_one_migration(root, labels[0])}


def make_real(root: Path, name: str) -> dict:
    body, dep_app, dep_model, _prefix = REAL[name]
    _write_common(root, body)
    app = root / "benchlocal"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(
        "# Models exist only in this app's migration history (benchmark fixture).\n"
    )
    (app / "migrations" / "__init__.py").write_text("")
    for mig, text in LOCAL_MIGRATIONS.items():
        text = text.replace("{dep_app!r}", repr(dep_app)).replace("{dep_model!r}", repr(dep_model))
        (app / "migrations" / f"{mig}.py").write_text(text)
    return {"labels": None, "change": lambda: synth.change_one_migration(root, "benchlocal", "note")}


def git_init(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@example.invalid",
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
                *args,
            ],
            cwd=root,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "benchmark base")


def git_restore(root: Path) -> None:
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=root, check=True)
