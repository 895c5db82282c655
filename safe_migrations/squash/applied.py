"""Which migrations a database has applied: one read-only query of django_migrations."""

from __future__ import annotations

from django.db import DatabaseError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import ConnectionDoesNotExist

from ..conf import ConfigError
from ..engine import DatabaseUnavailable, live_connection

Key = tuple[str, str]


def applied_migrations(alias: str) -> set[Key]:
    """The (app_label, name) rows of django_migrations on ``alias``; nothing is written."""
    try:
        connections[alias]
    except ConnectionDoesNotExist:
        raise ConfigError(f"no database alias {alias!r} in settings.DATABASES") from None
    connection = live_connection(alias)
    try:
        with transaction.atomic(using=alias):
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION READ ONLY")
                    cursor.execute("SET LOCAL statement_timeout = '10s'")
            return set(MigrationRecorder(connection).applied_migrations())
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()
        raise DatabaseUnavailable(
            f"cannot read django_migrations on database {alias!r}: {first[0] if first else type(exc).__name__}"
        ) from None
