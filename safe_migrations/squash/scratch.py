"""Throwaway PostgreSQL databases on the server of an alias, always dropped, and migrating one."""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionDoesNotExist

from ..conf import ConfigError
from ..engine import DatabaseUnavailable

PREFIX = "sm_squash_"


def _source(alias: str) -> Any:
    try:
        connection = connections[alias]
    except ConnectionDoesNotExist:
        raise ConfigError(f"no database alias {alias!r} in settings.DATABASES") from None
    if connection.vendor != "postgresql":
        raise ConfigError(
            f"--run verifies squashes on PostgreSQL: database {alias!r} is {connection.vendor} "
            "(choose another with --scratch-database)"
        )
    return connection


def _admin(source: Any, sql: str) -> None:
    """Run CREATE/DROP DATABASE through Django's maintenance-database connection."""
    try:
        # Django warns, then tries the alias's own database, when "postgres" is unreachable.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with source._nodb_cursor() as cursor:
                cursor.execute(sql)
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()
        raise DatabaseUnavailable(
            f"database server of {source.alias!r}: {first[0] if first else type(exc).__name__}"
        ) from None


def check_server(alias: str) -> None:
    """Fail early (exit 3) when the scratch server is down, before anything is written."""
    source = _source(alias)
    _admin(source, "SELECT 1")


@contextlib.contextmanager
def scratch_database(alias: str) -> Iterator[str]:
    """Point ``alias`` at a new empty database on its server while the block runs.

    The alias itself is switched, as Django's test runner does with NAME: data migrations that
    ignore ``schema_editor.connection.alias`` (most do) write to the "default" alias, so when
    ``alias`` is another one, "default" stands in for the scratch database too. The database is
    dropped and everything restored on the way out, whatever happens inside (errors,
    KeyboardInterrupt).
    """
    source = _source(alias)
    name = f"{PREFIX}{uuid.uuid4().hex[:16]}"
    quoted = source.ops.quote_name(name)
    original = source.settings_dict["NAME"]
    _admin(source, f"CREATE DATABASE {quoted}")
    try:
        _close(source)
        source.settings_dict["NAME"] = name
        saved_default = stand_in = None
        if alias != DEFAULT_DB_ALIAS:
            saved_default = connections[DEFAULT_DB_ALIAS]
            stand_in = type(source)(dict(source.settings_dict), DEFAULT_DB_ALIAS)
            connections[DEFAULT_DB_ALIAS] = stand_in
        try:
            yield alias
        finally:
            _close(source)
            source.settings_dict["NAME"] = original
            if stand_in is not None:
                _close(stand_in)
                connections[DEFAULT_DB_ALIAS] = saved_default
    finally:
        _admin(source, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


def _close(connection: Any) -> None:
    with contextlib.suppress(Exception):
        connection.close()
    close_pool = getattr(connection, "close_pool", None)  # Django >= 5.1 with OPTIONS["pool"]
    if close_pool is not None:
        with contextlib.suppress(Exception):
            close_pool()


def migrate(alias: str) -> None:
    """Apply every migration of the project to the (empty) database ``alias``.

    What ``migrate`` does minus its signals and checks: the scratch database only serves the
    schema comparison. A fresh database uses every squash in place of what it replaces.
    """
    connection = connections[alias]
    connection.prepare_database()
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    executor.migrate(targets, plan=executor.migration_plan(targets))
