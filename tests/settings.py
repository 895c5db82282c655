"""Settings for the test suite: a real PostgreSQL on 127.0.0.1 (trust auth)."""

import os

import django

SECRET_KEY = "tests"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "django.contrib.redirects",
    "safe_migrations",
    "tests.testapp",
]
# The operations fixture exercises Django 6.1 features (db_default, GeneratedField,
# on_delete=DB_CASCADE...): it only exists where they do.
OPSAPP = django.VERSION >= (6, 1)
if OPSAPP:
    INSTALLED_APPS.append("tests.opsapp")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("SAFE_MIGRATIONS_TEST_DB", "safe_migrations"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    },
    # Another backend for the rules that judge an operation where no SQL tree exists.
    "sqlite": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.request",
            ]
        },
    }
]
SITE_ID = 1
SAFE_MIGRATIONS = {"CACHE_DIR": None}
