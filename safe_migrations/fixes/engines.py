"""What a fix's SQL looks like on each database engine: identifier quoting and lock timeouts."""

from __future__ import annotations

from django.db.backends.utils import truncate_name

POSTGRESQL = "postgresql"

# Each backend's DatabaseOperations.quote_name, without a connection:
# https://github.com/django/django/blob/main/django/db/backends/mysql/operations.py (backticks),
# .../oracle/operations.py (upper case, truncated to 30 characters like Django's own names).
ORACLE_MAX_NAME_LENGTH = 30


def quote(vendor: str, identifier: str) -> str:
    """``identifier`` quoted for ``vendor``; ``schema.table`` quotes each part."""
    parts = identifier.split(".")
    if vendor == "mysql":
        return ".".join("`" + p.replace("`", "``") + "`" for p in parts)
    if vendor == "oracle":
        return ".".join('"' + truncate_name(p, ORACLE_MAX_NAME_LENGTH).upper() + '"' for p in parts)
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def lock_timeout(vendor: str) -> str | None:
    """The first operation of a migration bounding its wait for a table lock, or None where
    the engine has no such setting (SQLite locks the whole database file, no lock queue).

    MySQL and MariaDB: lock_wait_timeout (seconds) bounds the wait for the metadata lock that
    every ALTER/DROP TABLE takes; it is a session variable (DDL commits on its own there, so
    there is nothing like SET LOCAL) and stays for the rest of the ``migrate`` connection.
    https://mariadb.com/kb/en/server-system-variables/#lock_wait_timeout
    Oracle: DDL_LOCK_TIMEOUT (seconds), also per session.
    """
    if vendor == "mysql":
        return 'migrations.RunSQL("SET SESSION lock_wait_timeout = 2", migrations.RunSQL.noop),'
    if vendor == "oracle":
        return 'migrations.RunSQL("ALTER SESSION SET DDL_LOCK_TIMEOUT = 2", migrations.RunSQL.noop),'
    return None


def lock_timeout_phrase(vendor: str) -> str:
    """How a step says the statement waits only briefly for its lock, on ``vendor``."""
    if vendor == "mysql":
        return "with a short lock_wait_timeout"
    if vendor == "oracle":
        return "with a short DDL_LOCK_TIMEOUT"
    if vendor == "sqlite":
        return "(SQLite has no lock timeout to set: the statement locks the whole database briefly)"
    return "with a short lock_timeout"


def with_lock_timeout(vendor: str, operations: list[str]) -> list[str]:
    """``operations`` preceded by the engine's lock-timeout operation, if it has one."""
    first = lock_timeout(vendor)
    return [first, *operations] if first else list(operations)


def drop_if_exists(vendor: str) -> str:
    """``IF EXISTS `` where ``DROP TABLE/VIEW`` accepts it (Oracle only from 23ai)."""
    return "" if vendor == "oracle" else "IF EXISTS "
