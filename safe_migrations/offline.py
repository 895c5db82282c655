"""PostgreSQL SQL without a server: an offline connection for a chosen server version."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

from django.db import DatabaseError, connections
from django.db.utils import load_backend

from .catalog import Catalog
from .pgnames import implicit_constraint_name

POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")


def is_postgresql(settings_dict: dict[str, Any]) -> bool:
    engine = settings_dict.get("ENGINE", "")
    return engine in POSTGRESQL_ENGINES or "postgres" in engine


class NullCursor:
    """A cursor that answers every catalogue question with "nothing there".

    Used offline for the few places where Django's PostgreSQL code asks the
    server something while collecting SQL: ``CreateExtension`` asks whether the
    extension exists (no: sqlmigrate on a fresh database prints the CREATE) and
    ``_get_sequence_name`` looks for a serial sequence (none: identity columns).
    """

    description = None
    rowcount = 0

    def __enter__(self) -> NullCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: object = None) -> None:
        return None

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def close(self) -> None:
        return None


@cache
def _offline_adapters() -> Any:
    """psycopg 3 adapters as Django configures them, plus a server-like bytea dumper."""
    import zoneinfo

    from django.conf import settings
    from django.db.backends.postgresql.psycopg_any import get_adapters_template
    from psycopg.types.string import BytesDumper

    class OfflineBytesDumper(BytesDumper):
        # A live connection has standard_conforming_strings=on, so psycopg quotes
        # bytea as '\x..' there; without a connection it would use the E'' form.
        def quote(self, obj: Any) -> bytes:
            data = bytes(getattr(obj, "obj", obj))  # psycopg.Binary wraps the bytes
            return b"'\\x" + data.hex().encode() + b"'"

    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE or "UTC") if settings.USE_TZ else None
    adapters = get_adapters_template(settings.USE_TZ, tz)
    import psycopg

    for kind in (bytes, bytearray, memoryview, psycopg.Binary):
        adapters.register_dumper(kind, OfflineBytesDumper)
    return adapters


class _AdaptContext:
    connection = None

    @property
    def adapters(self) -> Any:
        return _offline_adapters()


def compose(sql: str, params: Any) -> str:
    """Merge parameters into SQL client-side, like psycopg's ClientCursor.mogrify."""
    try:
        from psycopg._queries import PostgresClientQuery
        from psycopg.adapt import Transformer
    except ImportError:  # psycopg2: Django quotes each value with adapt().getquoted()
        return sql % tuple(quote(p) for p in params)
    query = PostgresClientQuery(Transformer(_AdaptContext()))
    query.convert(sql, params)
    return bytes(query.query).decode()


def quote(value: Any) -> str:
    try:
        from psycopg import sql
    except ImportError:
        import psycopg2.extensions

        adapted = psycopg2.extensions.adapt(value)
        if hasattr(adapted, "encoding"):
            adapted.encoding = "utf8"
        return adapted.getquoted().decode()
    return sql.quote(value, _AdaptContext())


class OfflineSchemaEditorMixin:
    """Schema editor behaviour that needs no server.

    Everything Django decides stays Django's; only the places where the
    PostgreSQL editor reaches for the server are answered here: client-side
    parameter merging, collation lookups and constraint introspection, which is
    emulated by building the catalogue the table would have if it had been
    created by Django from the model state in hand.
    """

    connection: Any
    collect_sql: bool
    collected_sql: list[str]

    _safe_migrations_emulating = False

    def effective_default(self, field: Any) -> Any:
        """Django's default for ``field``; a placeholder when only the database can compute it.

        A callable default may query the database (``Collection.get_first_root_node``);
        offline there is none, so the value Django would freeze into the ALTER TABLE
        is shown as a string naming the callable. The statement keeps its shape.
        """
        try:
            return super().effective_default(field)  # type: ignore[misc]
        except (QueryWhileOffline, DatabaseError):
            default = getattr(field, "default", None)
            name = getattr(default, "__qualname__", None) or repr(default)
            return f"<value of {name}() when migrate runs>"

    def execute(self, sql: Any, params: Any = ()) -> None:
        text = str(sql) if params is None else compose(str(sql), params)
        catalog: Catalog | None = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is None or self._safe_migrations_emulating:
            super().execute(text, None)  # type: ignore[misc]
            return
        # Parsed as Django collects it (BaseDatabaseSchemaEditor.execute ends it with ';'):
        # the same text, so the rules find its parse tree in parse()'s cache.
        collected = text if text.rstrip().endswith(";") else text + ";"
        notes = (
            catalog.parents_locked(collected),
            catalog.proven_not_null(collected),
            catalog.index_columns(collected),
        )
        super().execute(text, None)  # type: ignore[misc]
        record = getattr(self, "safe_migrations_notes", None)
        if any(notes) and record is not None:
            # Read by the collector: what the catalogue knows before the statement runs
            # that its text does not show (locks on FK parents, CHECKs proving NOT NULL, the
            # columns of an index it attaches).
            record[len(self.collected_sql) - 1] = notes
        catalog.apply(collected)

    def _get_sequence_name(self, table: str, column: str) -> str | None:
        # The serial/identity sequence of a column, from the catalogue of this run. Django asks
        # only about an auto field, whose column owns one (serial or identity): on a table this
        # run did not see created (a partial run without the cache), the name PostgreSQL gives.
        catalog = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is not None and catalog.knows(table):
            return catalog.sequence(table, column)
        return implicit_constraint_name(table, [column], "seq")

    def _is_collation_deterministic(self, collation_name: str) -> bool:
        # Collations created by this run's SQL are known; PostgreSQL's built-in ones
        # (and others created outside the migrations) are taken as deterministic.
        catalog = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is not None and collation_name in catalog.collations:
            return bool(catalog.collations[collation_name])
        return True

    def _constraint_names(
        self,
        model: Any,
        column_names: list[str] | None = None,
        unique: bool | None = None,
        primary_key: bool | None = None,
        index: bool | None = None,
        foreign_key: bool | None = None,
        check: bool | None = None,
        type_: str | None = None,
        exclude: set[str] | None = None,
    ) -> list[str]:
        # Same filter as BaseDatabaseSchemaEditor._constraint_names (Django 4.2-6.1), over
        # the catalogue kept from this run's SQL when it saw the table created, else over
        # the catalogue emulated from the model.
        table = model._meta.db_table
        catalog = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is not None and catalog.knows(table):
            constraints = catalog.constraints(table)
        else:
            constraints = emulated_constraints(self, model)
            if catalog is not None:  # what hand-written SQL of earlier migrations added
                constraints.update(catalog.constraints(table))
        result = []
        for name, info in constraints.items():
            if column_names is None or list(column_names) == info["columns"]:
                if unique is not None and info["unique"] != unique:
                    continue
                if primary_key is not None and info["primary_key"] != primary_key:
                    continue
                if index is not None and info["index"] != index:
                    continue
                if check is not None and info["check"] != check:
                    continue
                if foreign_key is not None and not info["foreign_key"]:
                    continue
                if type_ is not None and info["type"] != type_:
                    continue
                if not exclude or name not in exclude:
                    result.append(name)
        return result


def emulated_constraints(editor: Any, model: Any) -> dict[str, dict[str, Any]]:
    """The constraints and indexes PostgreSQL would report for ``model``'s table.

    Django is asked for the SQL that creates the model (CREATE TABLE plus its
    deferred indexes and foreign keys); each statement is parsed with pglast and
    turned into the rows ``introspection.get_constraints`` would return,
    naming inline constraints the way PostgreSQL does (``<table>_pkey``,
    ``<table>_<column>_key``, ``<table>_<column>_check``).
    """
    from pglast import ast, enums, parse_sql

    table = model._meta.db_table
    # Django passes the new model when it removes a constraint (alter_unique_together,
    # alter_field): the model before the operation holds what is being removed.
    models = [model]
    old_state = getattr(editor, "safe_migrations_old_state", None)
    if old_state is not None:
        try:
            old = old_state.apps.get_model(model._meta.app_label, model._meta.model_name)
        except LookupError:
            old = None
        if old is not None and old is not model:
            models.insert(0, old)
    statements: list[str] = []
    for each in models:
        sub = editor.__class__(editor.connection, collect_sql=True, atomic=False)
        sub._safe_migrations_emulating = True
        sub.deferred_sql = []
        with _suppress_through_tables(each), _constraints_on_present_fields(each):
            sub.create_model(each)
        statements += list(sub.collected_sql) + [str(s) for s in sub.deferred_sql]
    found: dict[str, dict[str, Any]] = {}

    def add(name: str, columns: list[str], **flags: Any) -> None:
        info = {
            "columns": columns,
            "primary_key": False,
            "unique": False,
            "foreign_key": None,
            "check": False,
            "index": False,
            "type": None,
        }
        info.update(flags)
        found.setdefault(name, info)

    def constraint(con: Any, relname: str, column: str | None) -> None:
        keys = [k.sval for k in (con.keys or ())] or ([column] if column else [])
        kind = con.contype
        if kind == enums.ConstrType.CONSTR_PRIMARY:
            name = con.conname or f"{relname}_pkey"[:63]
            add(name, keys, primary_key=True, unique=True)
        elif kind == enums.ConstrType.CONSTR_UNIQUE:
            name = con.conname or implicit_constraint_name(relname, keys, "key")
            add(name, keys, unique=True)
        elif kind == enums.ConstrType.CONSTR_CHECK:
            name = con.conname or implicit_constraint_name(relname, [column] if column else [], "check")
            add(name, keys, check=True)
        elif kind == enums.ConstrType.CONSTR_FOREIGN:
            fk_cols = [k.sval for k in (con.fk_attrs or ())] or ([column] if column else [])
            target = (rel(con.pktable), con.pk_attrs[0].sval if con.pk_attrs else "id")
            name = con.conname or implicit_constraint_name(relname, fk_cols, "fkey")
            add(name, fk_cols, foreign_key=target)

    def rel(rangevar: Any) -> str:
        return str(getattr(rangevar, "relname", "") or "")

    for text in statements:
        try:
            parsed = parse_sql(text)
        except Exception:  # noqa: BLE001 - a statement pglast cannot read names nothing
            continue
        for raw in parsed:
            stmt = raw.stmt
            if isinstance(stmt, ast.CreateStmt) and rel(stmt.relation) == table:
                for elt in stmt.tableElts or ():
                    if isinstance(elt, ast.ColumnDef):
                        for con in elt.constraints or ():
                            constraint(con, table, elt.colname)
                    elif isinstance(elt, ast.Constraint):
                        constraint(elt, table, None)
            elif isinstance(stmt, ast.AlterTableStmt) and rel(stmt.relation) == table:
                for cmd in stmt.cmds or ():
                    if cmd.subtype == enums.AlterTableType.AT_AddConstraint:
                        constraint(cmd.def_, table, None)
            elif isinstance(stmt, ast.IndexStmt) and rel(stmt.relation) == table:
                columns = [p.name for p in stmt.indexParams or () if p.name]
                method = stmt.accessMethod or "btree"
                index_name = str(stmt.idxname or "")
                basic = method == "btree" and not index_name.endswith("_btree") and not stmt.options
                add(
                    index_name,
                    columns,
                    unique=bool(stmt.unique),
                    index=True,
                    type="idx" if basic else method,
                )
    return found


@contextlib.contextmanager
def _suppress_through_tables(model: Any) -> Iterator[None]:
    """create_model() also creates auto M2M tables; we only want this table."""
    fields = model._meta.local_many_to_many
    if not fields:
        yield
        return
    saved = [(f, f.remote_field.through._meta.auto_created) for f in fields]
    try:
        for f, _ in saved:
            f.remote_field.through._meta.auto_created = False
        yield
    finally:
        for f, auto in saved:
            f.remote_field.through._meta.auto_created = auto


def _q_field_names(node: Any) -> Iterator[str]:
    """Field names an index/constraint expression or Q object refers to.

    ``phone__isnull`` -> ``phone``; ``F("email")`` and ``Lower("email")`` -> ``email``.
    """
    if node is None:
        return
    if isinstance(node, str):
        yield node.lstrip("-").split("__", 1)[0]
        return
    name = getattr(node, "name", None)
    if type(node).__name__ == "F" and isinstance(name, str):
        yield name.split("__", 1)[0]
        return
    for child in getattr(node, "children", ()) or ():
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            yield child[0].split("__", 1)[0]
            yield from _q_field_names(child[1]) if not isinstance(child[1], (str, int, float)) else ()
        else:
            yield from _q_field_names(child)
    sources = getattr(node, "get_source_expressions", None)
    if callable(sources):
        for source in sources():
            yield from _q_field_names(source)


@contextlib.contextmanager
def _constraints_on_present_fields(model: Any) -> Iterator[None]:
    """Meta constraints naming a field the (reduced) model lacks cannot be rendered as SQL."""
    opts = model._meta
    present = {f.name for f in opts.get_fields()} | {f.attname for f in opts.concrete_fields}

    def renderable(option: Any) -> bool:
        names = {str(f).lstrip("-") for f in getattr(option, "fields", ()) or ()}
        names |= set(getattr(option, "include", ()) or ())
        condition = getattr(option, "condition", None) or getattr(option, "check", None)
        names |= set(_q_field_names(condition))
        for expression in getattr(option, "expressions", ()) or ():
            names |= set(_q_field_names(expression))
        return names <= present

    saved = opts.constraints, opts.indexes
    opts.constraints = [c for c in saved[0] if renderable(c)]
    opts.indexes = [i for i in saved[1] if renderable(i)]
    try:
        yield
    finally:
        opts.constraints, opts.indexes = saved


def default_server_version(alias: str) -> int:
    """The oldest PostgreSQL major version the installed Django supports."""
    features = connections[alias].features
    minimum = getattr(features, "minimum_database_version", None) or (12,)
    return int(minimum[0])


def offline_connection(alias: str, server_version: int) -> Any:
    """A DatabaseWrapper for ``alias`` that never connects, pinned to a server version."""
    settings_dict = copy.deepcopy(connections[alias].settings_dict)
    backend = load_backend(settings_dict["ENGINE"])
    conn = backend.DatabaseWrapper(settings_dict, alias)
    # pg_version is a cached_property holding server_version_num (e.g. 150000).
    conn.__dict__["pg_version"] = server_version * 10000
    # Django's quote_value passes connection.connection to psycopg as the
    # adaptation context: give it the offline one instead of a live connection.
    conn.connection = _AdaptContext()
    conn.cursor = NullCursor  # type: ignore[method-assign]
    conn.ensure_connection = _refuse_connection  # type: ignore[method-assign]
    conn.safe_migrations_catalog = Catalog()
    base = conn.SchemaEditorClass
    conn.SchemaEditorClass = type("Offline" + base.__name__, (OfflineSchemaEditorMixin, base), {})
    return conn


def _refuse_connection() -> None:
    raise RuntimeError("safe_migrations: the offline connection must not connect")


class QueryWhileOffline(DatabaseError):
    """Code run while SQL is generated offline (a callable default) tried to query a database."""


def _refuse_live_query(*args: Any, **kwargs: Any) -> None:
    raise QueryWhileOffline("safe_migrations generates SQL offline: no database may be queried")


@contextlib.contextmanager
def live_connections_blocked() -> Iterator[None]:
    """Make every configured connection refuse to connect or query for the duration.

    Offline SQL generation runs user code (callable defaults); none of it may reach
    a real database, let alone write to it.
    """
    blocked = []
    for alias in connections:
        conn = connections[alias]
        conn.ensure_connection = _refuse_live_query
        blocked.append(conn)
    try:
        yield
    finally:
        for conn in blocked:
            conn.__dict__.pop("ensure_connection", None)


@contextlib.contextmanager
def offline_patches() -> Iterator[None]:
    """Keep Django helpers that look up the *configured* connection offline.

    ``CreateExtension.database_forwards`` registers type handlers through
    ``connections[alias]``, which would connect to the real server.
    """
    try:
        from django.contrib.postgres import operations as pg_operations
    except ImportError:  # psycopg not installed: nothing to patch
        yield
        return
    original = pg_operations.register_type_handlers
    original_exists = pg_operations.CreateExtension.extension_exists

    def extension_exists(self: Any, schema_editor: Any, extension: str) -> bool:
        catalog = getattr(schema_editor.connection, "safe_migrations_catalog", None)
        if catalog is None:  # a live connection: ask the server
            return bool(original_exists(self, schema_editor, extension))
        return extension in catalog.extensions

    pg_operations.register_type_handlers = lambda connection: None
    pg_operations.CreateExtension.extension_exists = extension_exists  # type: ignore[method-assign]
    try:
        yield
    finally:
        pg_operations.register_type_handlers = original
        pg_operations.CreateExtension.extension_exists = original_exists  # type: ignore[method-assign]
