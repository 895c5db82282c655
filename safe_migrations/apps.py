"""Django app configuration for safe_migrations."""

from django.apps import AppConfig


class SafeMigrationsConfig(AppConfig):
    name = "safe_migrations"
    verbose_name = "Safe migrations"
