"""--trace: apply the pending migrations to a scratch database and watch what PostgreSQL does.

The scratch database is created on the target's server (or on ``--trace-database``), brought
to the target's applied state by Django's migration executor (as ``migrate`` and the test
runner do), then every pending migration is applied the same way while each statement the
schema editor executes is observed from its own session: the relation locks it newly took
on objects that existed before the migration (``pg_locks``), the tables and indexes it
rewrote (``pg_class.relfilenode``), the tables it scanned (``pg_stat_xact_user_tables``),
and its time. The scratch database is always dropped; one left behind by a killed run is
dropped by the next ``--trace``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connections
from django.db.utils import load_backend

from ..engine import DatabaseUnavailable
from ..parsing.statement import Lock
from .readonly import first_line

Key = tuple[str, str]

PREFIX = "sm_trace_"
NAME_RE = re.compile(r"^sm_trace_(?P<time>\d+)_(?P<pid>\d+)_(?P<token>[0-9a-f]+)$")
# The owner of a scratch database keeps a session open on the maintenance database under
# this application_name: when the owner dies, even by SIGKILL, that idle session ends at
# once, while a backend still busy in the scratch database (a long statement) may linger.
OWNER_MARK = "sm_trace_owner:"

TRANSACTION = "transaction"
AUTOCOMMIT = "autocommit"
UNOBSERVED = "autocommit, not observable"

_MODES = {"".join(part.capitalize() for part in lock.name.split("_")) + "Lock": lock for lock in Lock}
_KINDS = {
    "r": "table",
    "p": "table",
    "m": "materialized view",
    "i": "index",
    "I": "index",
    "S": "sequence",
    "v": "view",
    "f": "foreign table",
    "c": "type",
    "t": "toast table",
}
_TABLE_KINDS = ("r", "p", "m")


def scratch_name(now: float | None = None) -> str:
    """sm_trace_<unix time>_<pid>_<random>: unique, sortable, and dated for the orphan sweep."""
    stamp = int(time.time() if now is None else now)
    return f"{PREFIX}{stamp}_{os.getpid()}_{secrets.token_hex(4)}"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised the way Ctrl-C raises KeyboardInterrupt, so that every finally runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """While tracing, SIGTERM raises Interrupted instead of ending the process on the spot."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (the drop of the scratch database)."""
    if not hasattr(signal, "pthread_sigmask") or not _main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _writable(options: dict[str, Any]) -> dict[str, Any]:
    """Connection OPTIONS for a session that creates or migrates the scratch database: a
    read-only default (a deploy role's ``-c default_transaction_read_only=on``) is undone."""
    options = dict(options)
    extra = options.get("options")
    if isinstance(extra, str) and "default_transaction_read_only" in extra:
        options["options"] = f"{extra} -c default_transaction_read_only=off"
    return options


class Server:
    """An autocommit session on a maintenance database of the server that hosts scratch
    databases: it creates them, drops them, and marks their owner as alive."""

    def __init__(
        self, settings_dict: dict[str, Any], *, maintenance_db: str | None, owner_of: str, label: str
    ):
        from django.db.backends.base.base import NO_DB_ALIAS

        settings = copy.deepcopy(settings_dict)
        settings["NAME"] = maintenance_db  # None: PostgreSQL's "postgres" database, as Django's _nodb_cursor
        options = _writable(settings.get("OPTIONS") or {})
        options["application_name"] = OWNER_MARK + owner_of
        settings["OPTIONS"] = options
        backend = load_backend(settings["ENGINE"])
        self.settings = settings
        self.label = label
        self.wrapper = backend.DatabaseWrapper(settings, NO_DB_ALIAS)

    def connect(self) -> None:
        from django.db import OperationalError

        try:
            self.wrapper.ensure_connection()
        except OperationalError as exc:
            raise DatabaseUnavailable(
                f"trace server {self.label} is unreachable: {first_line(exc)}"
            ) from None

    @property
    def version(self) -> int:
        return int(self.wrapper.pg_version) // 10000

    def quote(self, name: str) -> str:
        return str(self.wrapper.ops.quote_name(name))

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.wrapper.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def sweep(self, started: float) -> tuple[list[str], list[str]]:
        """Drop the scratch databases whose owner is gone: (dropped, could not drop)."""
        rows = self.execute(
            "SELECT d.datname, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = %s || d.datname)"
            " FROM pg_database d WHERE d.datname LIKE %s ORDER BY 1",
            [OWNER_MARK, PREFIX.replace("_", r"\_") + "%"],
        )
        dropped: list[str] = []
        failed: list[str] = []
        for name, owner_alive in rows:
            match = NAME_RE.match(name)
            if match is None or owner_alive or int(match["time"]) > started:
                continue
            try:
                self.drop(name)
            except Exception as exc:  # noqa: BLE001 - another owner's database, a permission: go on
                failed.append(f"{name} ({first_line(exc)})")
            else:
                dropped.append(name)
        return dropped, failed

    def create(self, name: str) -> None:
        from django.db import DatabaseError

        suffix = self.wrapper.creation.sql_table_creation_suffix()
        try:
            self.execute(f"CREATE DATABASE {self.quote(name)}{' ' + suffix if suffix else ''}")
        except DatabaseError as exc:
            raise DatabaseUnavailable(
                f"cannot create the scratch database on {self.label}: {first_line(exc)}"
                " (--trace needs a role with CREATEDB there; --trace-database ALIAS names another connection)"
            ) from None

    def drop(self, name: str) -> None:
        """DROP DATABASE, ending the sessions still in it (one retry on a fresh session: the
        current one may have been interrupted in the middle of a query)."""
        for attempt in (1, 2):
            try:
                if self.version >= 13:
                    self.execute(f"DROP DATABASE IF EXISTS {self.quote(name)} WITH (FORCE)")
                else:
                    self.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
                    )
                    self.execute(f"DROP DATABASE IF EXISTS {self.quote(name)}")
                return
            except Exception:
                if attempt == 2:
                    raise
                with contextlib.suppress(Exception):
                    self.wrapper.close()
                self.wrapper.connection = None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wrapper.close()


def scratch_wrapper(settings_dict: dict[str, Any], name: str, alias: str) -> Any:
    """A connection to the scratch database registered under the target's alias, so that
    database routers and RunPython code (schema_editor.connection.alias) see the same alias."""
    settings = copy.deepcopy(settings_dict)
    settings["NAME"] = name
    settings["OPTIONS"] = _writable(settings.get("OPTIONS") or {})
    backend = load_backend(settings["ENGINE"])
    return backend.DatabaseWrapper(settings, alias)


# --- observation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    oid: int
    name: str
    relkind: str
    table_oid: int  # for an index, its table; 0 otherwise
    relfilenode: int

    @property
    def kind(self) -> str:
        return _KINDS.get(self.relkind, self.relkind)


@dataclass
class Executed:
    """One statement the schema editor executed, and what PostgreSQL reported."""

    text: str
    mode: str
    elapsed_ms: float = 0.0
    new_locks: list[tuple[int, Lock]] = field(default_factory=list)
    held_after: dict[int, set[Lock]] = field(default_factory=dict)
    rewritten: list[int] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)
    error: str | None = None


@dataclass
class Applied:
    key: Key
    atomic: bool
    objects: dict[int, Relation]
    executed: list[Executed] = field(default_factory=list)
    elapsed_ms: float = 0.0
    status: str = "applied"
    error: str | None = None


_SNAPSHOT_SQL = """
SELECT c.oid::bigint, n.nspname, c.relname, c.relkind, c.relfilenode::bigint,
       pg_table_is_visible(c.oid), coalesce(i.indrelid, 0)::bigint
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""

# One round trip per observation: this backend's relation locks in this database, the
# relfilenode of every object that existed before the migration, and the per-transaction
# sequential scan counters (which only this backend's open transaction has yet).
_OBSERVE_SQL = """
SELECT 'l', l.relation::bigint, l.mode
FROM pg_locks l
WHERE l.locktype = 'relation' AND l.pid = pg_backend_pid() AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
UNION ALL
SELECT 'f', c.oid::bigint, c.relfilenode::text FROM pg_class c WHERE c.oid = ANY(%s::oid[])
UNION ALL
SELECT 's', s.relid::bigint, s.seq_scan::text FROM pg_stat_xact_user_tables s
"""

_FILENODES_SQL = "SELECT 'f', c.oid::bigint, c.relfilenode::text FROM pg_class c WHERE c.oid = ANY(%s::oid[])"


@dataclass
class Observation:
    locks: set[tuple[int, Lock]] = field(default_factory=set)
    filenodes: dict[int, int] = field(default_factory=dict)
    scans: dict[int, int] = field(default_factory=dict)


def _autocommit_only(sql: str, server_version: int) -> bool:
    """Statements PostgreSQL refuses inside a transaction block (or that end one): in
    autocommit they run as ``migrate`` runs them, and their locks cannot be observed."""
    from pglast import ast, enums

    from ..parsing.postgres import parse

    try:
        nodes = parse(sql)
    except Exception:  # noqa: BLE001 - unparsable: run it exactly as migrate would, unobserved
        return True
    for raw in nodes:
        node = raw.stmt
        if isinstance(node, (ast.IndexStmt, ast.DropStmt)) and node.concurrent:
            return True
        if isinstance(node, ast.ReindexStmt) and any(
            getattr(p, "defname", "") == "concurrently" for p in node.params or ()
        ):
            return True
        if isinstance(node, ast.AlterTableStmt) and any(
            cmd.subtype == enums.AlterTableType.AT_DetachPartition and getattr(cmd.def_, "concurrent", False)
            for cmd in node.cmds or ()
        ):
            return True
        if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
            return True
        if isinstance(node, ast.AlterEnumStmt) and server_version < 12:
            return True
        if isinstance(
            node,
            (
                ast.TransactionStmt,
                ast.CreatedbStmt,
                ast.DropdbStmt,
                ast.CreateTableSpaceStmt,
                ast.DropTableSpaceStmt,
                ast.AlterSystemStmt,
                ast.CreateSubscriptionStmt,
                ast.DropSubscriptionStmt,
            ),
        ):
            return True
    return False


class Tracer:
    """Hooks the scratch connection's schema editor and records each executed statement."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.applied: list[Applied] = []
        self.current: Applied | None = None
        self._started = 0.0

    # Raw driver cursors: Django's cursor wrappers and debug logging stay out of the way.
    def _rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def snapshot(self) -> dict[int, Relation]:
        self.connection.ensure_connection()
        objects: dict[int, Relation] = {}
        for oid, schema, name, relkind, filenode, visible, table_oid in self._rows(_SNAPSHOT_SQL):
            label = name if visible else f"{schema}.{name}"
            objects[int(oid)] = Relation(int(oid), label, relkind, int(table_oid), int(filenode))
        return objects

    def progress(self, action: str, migration: Any = None, fake: bool = False) -> None:
        """MigrationExecutor's progress_callback: where one migration starts and ends."""
        if action == "apply_start":
            key = (migration.app_label, migration.name)
            self.current = Applied(key, bool(migration.atomic), self.snapshot())
            self.applied.append(self.current)
            self._started = time.perf_counter()
        elif action == "apply_success" and self.current is not None:
            self.current.elapsed_ms = (time.perf_counter() - self._started) * 1000
            self.current = None

    def failed(self, exc: BaseException) -> None:
        if self.current is not None:
            self.current.status = "failed"
            self.current.error = first_line(exc)
            self.current.elapsed_ms = (time.perf_counter() - self._started) * 1000
            self.current = None

    def observe(self, full: bool) -> Observation:
        assert self.current is not None
        oids = "{" + ",".join(str(oid) for oid in self.current.objects) + "}"
        seen = Observation()
        for kind, oid, value in self._rows(_OBSERVE_SQL if full else _FILENODES_SQL, [oids]):
            if kind == "l":
                mode = _MODES.get(value)
                if mode is not None:
                    seen.locks.add((int(oid), mode))
            elif kind == "f":
                seen.filenodes[int(oid)] = int(value)
            else:
                seen.scans[int(oid)] = int(value)
        return seen

    def editor_class(self, base: type) -> type:
        tracer = self

        class TracingSchemaEditor(base):  # type: ignore[valid-type,misc]
            def execute(self, sql: Any, params: Any = ()) -> Any:
                if tracer.current is None:
                    return super().execute(sql, params)
                return tracer.statement(
                    self, lambda: super(TracingSchemaEditor, self).execute(sql, params), sql, params
                )

        return TracingSchemaEditor

    def statement(self, editor: Any, run: Callable[[], Any], sql: Any, params: Any) -> Any:
        assert self.current is not None
        text = composed(editor, sql, params)
        connection = editor.connection
        if connection.in_atomic_block:
            mode, wrap = TRANSACTION, False
        elif _autocommit_only(text, int(connection.pg_version) // 10000):
            mode, wrap = UNOBSERVED, False
        else:
            # Run alone in its own transaction, which is what autocommit does for a single
            # statement, so that its locks can be read before they are released.
            mode, wrap = AUTOCOMMIT, True
        record = Executed(text, mode)
        self.current.executed.append(record)
        if wrap:
            self._rows_silent("BEGIN")
        before = self.observe(full=mode != UNOBSERVED)
        started = time.perf_counter()
        try:
            result = run()
        except BaseException as exc:
            record.elapsed_ms = (time.perf_counter() - started) * 1000
            record.error = first_line(exc)
            if wrap:
                with contextlib.suppress(Exception):
                    self._rows_silent("ROLLBACK")
            raise
        record.elapsed_ms = (time.perf_counter() - started) * 1000
        after = self.observe(full=mode != UNOBSERVED)
        if wrap:
            self._rows_silent("COMMIT")
        objects = self.current.objects
        record.new_locks = sorted(
            (pair for pair in after.locks - before.locks if pair[0] in objects), key=lambda p: (-p[1], p[0])
        )
        for oid, lock in after.locks:
            if oid in objects:
                record.held_after.setdefault(oid, set()).add(lock)
        record.rewritten = [
            oid
            for oid, node in after.filenodes.items()
            if oid in before.filenodes and node != before.filenodes[oid] and node != 0
        ]
        record.scanned = [
            oid for oid, count in after.scans.items() if oid in objects and count > before.scans.get(oid, 0)
        ]
        return result

    def _rows_silent(self, sql: str) -> None:
        cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


def composed(editor: Any, sql: Any, params: Any) -> str:
    """The statement as the server receives it (PostgreSQL's schema editor merges the
    parameters client-side, and so does collect mode)."""
    if not params:
        return str(sql)
    try:
        return str(editor.connection.ops.compose_sql(str(sql), params))
    except Exception:  # noqa: BLE001 - only used to match the statement with the static analysis
        return str(sql)


# --- the run ----------------------------------------------------------------------------


@dataclass
class TraceRun:
    database: str
    applied: list[Applied] = field(default_factory=list)
    orphans_dropped: list[str] = field(default_factory=list)
    orphans_left: list[str] = field(default_factory=list)
    dropped: bool = False
    setup_error: str | None = None  # the applied state could not be built


def _migrate(connection: Any, keys: list[Key], callback: Any = None) -> None:
    """Apply exactly these migrations, in order, as the migrate command does (signals included)."""
    from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection, progress_callback=callback)
    plan = [(executor.loader.graph.nodes[key], False) for key in keys]
    out = io.StringIO()
    pre_state = executor._create_project_state(with_applied_migrations=True)
    emit_pre_migrate_signal(0, False, connection.alias, stdout=out, apps=pre_state.apps, plan=plan)
    state = executor.migrate([], plan=plan)
    state.clear_delayed_apps_cache()
    emit_post_migrate_signal(0, False, connection.alias, stdout=out, apps=state.apps, plan=plan)


def run(
    *,
    alias: str,
    server_settings: dict[str, Any],
    maintenance_db: str | None,
    server_label: str,
    applied_keys: list[Key],
    pending_keys: list[Key],
) -> TraceRun:
    """Create the scratch database, migrate it, trace the pending migrations, drop it."""
    started = time.time()
    name = scratch_name(started)
    outcome = TraceRun(database=name)
    server = Server(server_settings, maintenance_db=maintenance_db, owner_of=name, label=server_label)
    interrupted: KeyboardInterrupt | None = None
    with terminate_raises():
        created = False
        try:
            server.connect()
            outcome.orphans_dropped, outcome.orphans_left = server.sweep(started)
            # Set before CREATE DATABASE: a signal right after it must still drop it
            # (DROP DATABASE IF EXISTS is harmless when the CREATE did not happen).
            created = True
            server.create(name)
            _trace(outcome, alias, server_settings, name, applied_keys, pending_keys)
        except KeyboardInterrupt as exc:
            interrupted = exc
            raise
        except DatabaseError as exc:
            raise DatabaseUnavailable(f"trace server {server_label}: {first_line(exc)}") from None
        finally:
            with signals_deferred():
                if created:
                    try:
                        server.drop(name)
                    except Exception as exc:  # noqa: BLE001 - the next --trace drops it
                        outcome.orphans_left.append(f"{name} ({first_line(exc)})")
                    else:
                        outcome.dropped = True
                server.close()
                if interrupted is not None:
                    if not created:
                        interrupted.args = ("no scratch database was created",)
                    else:
                        state = "dropped" if outcome.dropped else "left for the next --trace to drop"
                        interrupted.args = (f"scratch database {name} {state}",)
    return outcome


def _trace(
    outcome: TraceRun,
    alias: str,
    server_settings: dict[str, Any],
    name: str,
    applied_keys: list[Key],
    pending_keys: list[Key],
) -> None:
    scratch = scratch_wrapper(server_settings, name, alias)
    previous = connections[alias]
    connections[alias] = scratch
    try:
        try:
            scratch.ensure_connection()
        except DatabaseError as exc:
            raise DatabaseUnavailable(
                f"cannot connect to the scratch database {name}: {first_line(exc)}"
            ) from None
        with scratch.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            (current,) = cursor.fetchone()
        if current != name:  # never migrate anything but the scratch database
            raise DatabaseUnavailable(
                f"trace: connected to {current!r} instead of the scratch database {name!r}"
            )
        try:
            _migrate(scratch, applied_keys)
        except Exception as exc:  # noqa: BLE001 - reported, the gate goes on without a trace
            outcome.setup_error = f"{type(exc).__name__}: {first_line(exc)}"
            return
        tracer = Tracer(scratch)
        scratch.SchemaEditorClass = tracer.editor_class(type(scratch).SchemaEditorClass)
        try:
            _migrate(scratch, pending_keys, tracer.progress)
        except Exception as exc:  # noqa: BLE001 - a migration fails on the server: that is the finding
            if tracer.current is None:
                outcome.setup_error = f"{type(exc).__name__}: {first_line(exc)}"
            tracer.failed(exc)
        outcome.applied = tracer.applied
    finally:
        connections[alias] = previous
        with contextlib.suppress(Exception):
            scratch.close()
