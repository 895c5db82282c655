"""The target database, read-only: each query in its own READ ONLY transaction with short timeouts."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, connections

from ..engine import DatabaseUnavailable


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


class ReadOnlyGuard:
    """A Django execute wrapper that puts every query in a READ ONLY transaction.

    In autocommit (the gate's normal mode) each query gets its own transaction, opened
    with ``BEGIN READ ONLY`` and ``SET LOCAL`` timeouts and committed at once: no snapshot
    and no lock outlives the query, and none of them can wait long. Inside an atomic
    block the same settings are applied when the transaction starts.
    https://docs.djangoproject.com/en/stable/topics/db/instrumentation/
    """

    def __init__(self, *, statement_timeout_ms: int, lock_timeout_ms: int, idle_timeout_ms: int = 60_000):
        # Integers only: the values are written into the SQL.
        self.settings = (
            f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
            f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}; "
            # A gate process stopped between BEGIN and COMMIT must not pin the server.
            f"SET LOCAL idle_in_transaction_session_timeout = {int(idle_timeout_ms)}"
        )

    def __call__(self, execute: Any, sql: Any, params: Any, many: bool, context: dict[str, Any]) -> Any:
        connection = context["connection"]
        raw = connection.connection
        if connection.in_atomic_block:
            if _transaction_idle(raw):
                # The driver opens the transaction with this first statement.
                _raw_execute(connection, f"SET TRANSACTION READ ONLY; {self.settings}")
            return execute(sql, params, many, context)
        _raw_execute(connection, f"BEGIN READ ONLY; {self.settings}")
        try:
            result = execute(sql, params, many, context)
        except BaseException:
            with contextlib.suppress(Exception):
                _raw_execute(connection, "ROLLBACK")
            raise
        _raw_execute(connection, "COMMIT")
        return result


def _raw_execute(connection: Any, sql: str) -> None:
    """On the driver connection: the wrapped cursor would call the guard again."""
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


def _transaction_idle(raw: Any) -> bool:
    """No transaction open on the driver connection (psycopg 3 and psycopg2 both expose
    ``info.transaction_status``; 0 is IDLE in both)."""
    return int(raw.info.transaction_status) == 0


def _twin(original: Any) -> Any:
    """A new, unopened wrapper with the alias's settings (the original stays untouched)."""
    settings_dict = copy.deepcopy(original.settings_dict)
    return original.__class__(settings_dict, original.alias)


@contextlib.contextmanager
def target(alias: str, *, statement_timeout_ms: int, lock_timeout_ms: int) -> Iterator[Any]:
    """``connections[alias]`` replaced, for the duration, by a guarded read-only twin.

    Everything that goes through the alias (the migration loader, Django's introspection
    while SQL is collected, the size queries) runs through the guard. A database error on
    the way is one line and exit code 3 (DatabaseUnavailable).
    """
    from django.db import OperationalError

    original = connections[alias]
    twin = _twin(original)
    twin.execute_wrappers.append(
        ReadOnlyGuard(statement_timeout_ms=statement_timeout_ms, lock_timeout_ms=lock_timeout_ms)
    )
    connections[alias] = twin
    try:
        try:
            twin.ensure_connection()
        except OperationalError as exc:
            raise DatabaseUnavailable(f"database {alias!r} is unreachable: {first_line(exc)}") from None
        try:
            yield twin
        except DatabaseError as exc:
            raise DatabaseUnavailable(f"database {alias!r}: {first_line(exc)}") from None
    finally:
        with contextlib.suppress(Exception):
            twin.close()
        connections[alias] = original
