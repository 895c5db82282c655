"""One forwards walk over the plan: state for every migration, SQL for the selected ones.

This is the only module that touches ProjectState and the schema editor. Per
operation it does what ``Migration.apply(collect_sql=True)`` does (Django 4.2 to
6.1, django/db/migrations/migration.py), without the transaction that needs a
connection, and keeps the state before and after each operation.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.migrations.operations import AddIndex, RunPython, RunSQL, SeparateDatabaseAndState
from django.db.migrations.state import ProjectState
from django.db.migrations.writer import MigrationWriter, OperationWriter
from django.db.models.fields import NOT_PROVIDED

from . import ministate
from .facts import (
    CollectedMigration,
    CollectedStatement,
    FieldFacts,
    ModelFacts,
    OperationFacts,
    RunPythonFacts,
)
from .findings import LoadError
from .offline import live_connections_blocked, offline_patches

Key = tuple[str, str]


class CollectError(Exception):
    """Django could not generate the SQL of an operation (one-line message)."""


@dataclass(frozen=True)
class WalkItem:
    key: Key
    collected: CollectedMigration | None = None
    error: LoadError | None = None


# A function defined in a migration module, as Django's writer names it
# (`shop.migrations.0002_fill.forwards`): inside that file it is just `forwards`.
_MIGRATION_MODULE = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w*\.)*migrations\.[0-9]\w*\.(?=[A-Za-z_])")
_SPECIAL = "django.db.migrations.operations.special."


def as_written(code: str) -> str:
    """Serialized operation code as it reads inside a migration file."""
    code = _MIGRATION_MODULE.sub("", code)
    return code.replace(_SPECIAL + "RunPython.noop", "migrations.RunPython.noop").replace(
        _SPECIAL + "RunSQL.noop", "migrations.RunSQL.noop"
    )


def serialize(value: Any) -> str:
    try:
        return as_written(MigrationWriter.serialize(value)[0])
    except Exception:  # noqa: BLE001 - some values cannot be written as code
        return repr(value)


def operation_lines(path: Path | None) -> dict[tuple[int, ...], int]:
    """Line of each operation in a migration file, keyed by (index, sub-indexes...)."""
    if path is None or not path.exists():
        return {}
    try:
        tree = ast.parse(path.read_bytes())  # bytes: the file's coding line is honoured
    except (SyntaxError, UnicodeDecodeError, OSError):
        return {}
    lines: dict[tuple[int, ...], int] = {}

    def visit(elements: Iterable[ast.expr], prefix: tuple[int, ...]) -> None:
        for i, node in enumerate(elements):
            here = (*prefix, i)
            lines[here] = node.lineno
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "database_operations" and isinstance(kw.value, (ast.List, ast.Tuple)):
                        visit(kw.value.elts, here)

    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Migration"):
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "operations" for t in stmt.targets
            ):
                if isinstance(stmt.value, (ast.List, ast.Tuple)):
                    visit(stmt.value.elts, ())
    return lines


def _db_type(field: Any, connection: Any) -> str | None:
    """The field's column type, or None when it cannot be known (a lazy FK target not
    rendered, a custom field that needs its model)."""
    try:
        db_type = field.db_type(connection)
    except Exception:  # noqa: BLE001 - see above
        return None
    return None if db_type is None else str(db_type)


class FactMaker:
    """Turns Django fields and models into facts, memoised per field object."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._fields: dict[int, tuple[Any, FieldFacts]] = {}

    def field(self, field: Any) -> FieldFacts:
        memo = self._fields.get(id(field))
        if memo is not None and memo[0] is field:
            return memo[1]
        facts = self._make_field(field)
        self._fields[id(field)] = (field, facts)
        return facts

    def _make_field(self, field: Any) -> FieldFacts:
        db_type = _db_type(field, self.connection)
        related = field.related_model if field.is_relation else None
        related_label = related_table = None
        if related is not None and not isinstance(related, str):
            related_label = f"{related._meta.app_label}.{related._meta.object_name}"
            related_table = related._meta.db_table
        has_default = field.has_default()
        db_default = getattr(field, "db_default", NOT_PROVIDED)
        cls = type(field)
        code = serialize(field)  # never raises: repr() when it cannot be written
        try:
            _, _, _, kwargs = field.deconstruct()
            class_code = code.split("(", 1)[0]
            kwargs_code = tuple((k, serialize(v)) for k, v in kwargs.items())
        except Exception:  # noqa: BLE001 - custom fields with odd deconstruct()
            class_code, kwargs_code = f"{cls.__module__}.{cls.__qualname__}", ()
        return FieldFacts(
            name=field.name,
            column=field.column,
            path=f"{cls.__module__}.{cls.__qualname__}",
            internal_type=field.get_internal_type(),
            db_type=db_type,
            null=bool(field.null),
            unique=bool(field.unique),
            primary_key=bool(field.primary_key),
            db_index=bool(field.db_index),
            has_default=has_default,
            default_callable=has_default and callable(field.default),
            default_code=serialize(field.default) if has_default else None,
            has_db_default=db_default is not NOT_PROVIDED,
            db_default_code=serialize(db_default) if db_default is not NOT_PROVIDED else None,
            max_length=getattr(field, "max_length", None),
            is_relation=bool(field.is_relation),
            many_to_many=bool(field.many_to_many),
            related_model=related_label,
            related_table=related_table,
            db_constraint=bool(getattr(field, "db_constraint", False)),
            generated=bool(getattr(field, "generated", False)),
            db_persist=bool(getattr(field, "db_persist", False)),
            code=code,
            class_code=class_code,
            kwargs_code=kwargs_code,
        )


def _get_model(state: ProjectState, app_label: str, name: str | None) -> Any:
    if not name:
        return None
    if (app_label, name.lower()) not in state.models:
        return None
    try:
        return state.apps.get_model(app_label, name)
    except LookupError:
        return None


def _targets(operation: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(model before, model after, field before, field after) names an operation touches."""
    kind = type(operation).__name__
    if kind == "RenameModel":
        return operation.old_name, operation.new_name, None, None
    if kind == "RenameField":
        return operation.model_name, operation.model_name, operation.old_name, operation.new_name
    model_name = getattr(operation, "model_name", None)
    if model_name is not None:
        field_name = getattr(operation, "name", None) if hasattr(operation, "field") else None
        if kind == "RemoveField":
            field_name = operation.name
        return model_name, model_name, field_name, field_name
    name = getattr(operation, "name", None)
    if isinstance(name, str) and hasattr(operation, "name_lower"):
        return name, name, None, None
    return None, None, None, None


def _callable_name(func: Any) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _runpython_facts(operation: RunPython) -> RunPythonFacts:
    reverse = operation.reverse_code
    try:
        source = inspect.getsource(operation.code)
    except (OSError, TypeError):
        source = None
    return RunPythonFacts(
        code=_callable_name(operation.code),
        reverse_code=None if reverse is None else _callable_name(reverse),
        reverse_is_noop=reverse is RunPython.noop,
        elidable=bool(operation.elidable),
        source=source,
    )


def _sql_text(sql: Any) -> str | None:
    if sql is None:
        return None
    if isinstance(sql, str):
        return sql
    parts = []
    for item in sql:
        parts.append(item[0] if isinstance(item, (list, tuple)) else str(item))
    return ";\n".join(p.rstrip().rstrip(";") for p in parts) + ";"


class MigrationCollector:
    """Collects one migration's SQL through a schema editor in collect mode."""

    def __init__(self, connection: Any, root: Path | None) -> None:
        self.connection = connection
        self.root = root
        self._root_resolved: Path | None = None
        self._dirs: dict[str, str | None] = {}  # directory -> relative to root (None: outside)
        self.facts = FactMaker(connection)

    def replay(self, collected: CollectedMigration) -> None:
        """Feed SQL collected earlier (cache) to the offline catalogue, in order."""
        catalog = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is not None:
            for statement in collected.statements:
                catalog.apply(statement.sql)

    def replay_hand_written(self, migration: Any) -> None:
        """Feed an unlinted migration's RunSQL to the catalogue (no rendering needed).

        Django's own operations are described by the model state; hand-written SQL is
        not, and a later migration may rename or drop what it created.
        """
        catalog = getattr(self.connection, "safe_migrations_catalog", None)
        if catalog is None:
            return

        def visit(operations: Any) -> None:
            for operation in operations:
                if isinstance(operation, SeparateDatabaseAndState):
                    visit(operation.database_operations)
                elif isinstance(operation, RunSQL) and operation.sql is not RunSQL.noop:
                    items = [operation.sql] if isinstance(operation.sql, str) else operation.sql
                    for item in items:
                        if isinstance(item, str):  # (sql, params) pairs need parameters merged
                            catalog.apply(item)

        visit(migration.operations)

    def relative(self, path: Path | None) -> str | None:
        if path is None:
            return None
        if self.root is None:
            return str(path)
        if path.name in ("", "..") or path.is_symlink():
            found = self._relative(path)
            return str(path) if found is None else found
        # The file's directory is resolved once, not once per file (pathlib is slow).
        head, name = os.path.split(str(path))
        if head not in self._dirs:
            self._dirs[head] = self._relative(path.parent)
        directory = self._dirs[head]
        if directory is None:
            return str(path)
        return name if directory == "." else os.path.join(directory, name)

    def _relative(self, path: Path) -> str | None:
        """``path`` resolved, relative to the project root; None outside it."""
        if self._root_resolved is None:
            self._root_resolved = self.root.resolve() if self.root is not None else None
        try:
            return str(path.resolve().relative_to(self._root_resolved))  # type: ignore[arg-type]
        except ValueError:
            return None

    def collect(self, migration: Any, state: ProjectState, path: Path | None) -> CollectedMigration:
        editor = self.connection.schema_editor(collect_sql=True, atomic=migration.atomic)
        # What SchemaEditor.__enter__ does, minus the transaction (no connection).
        editor.deferred_sql = []
        editor.safe_migrations_notes = {}  # collected_sql index -> (FK parents, proven NOT NULL, index columns)
        self.editor = editor
        self.lines = operation_lines(path)
        self.ops: list[OperationFacts] = []
        self.statements: list[CollectedStatement] = []
        self.deferred_owner: dict[int, int] = {}
        app_label = migration.app_label
        # Operations that read reverse relations (renamed models, primary key changes)
        # need Django's own rendering, and then the same rendering history as Django
        # for the whole migration: the order of related objects follows it.
        # Minimal model states are proven against sqlmigrate on PostgreSQL only; other backends
        # read more of the model (SQLite rebuilds the whole table on most changes).
        self.faithful = self.connection.vendor != "postgresql" or ministate.needs_full(
            migration.operations, app_label, state
        )
        self.keeps = {} if self.faithful else ministate.keeps(migration.operations, app_label, state)
        self.last_mini: tuple[Any, ProjectState] | None = None
        try:
            offline = getattr(self.connection, "safe_migrations_catalog", None) is not None
            with offline_patches(), live_connections_blocked() if offline else contextlib.nullcontext():
                for index, operation in enumerate(migration.operations):
                    self._run(app_label, operation, state, (index,), database_only=False)
        finally:
            state.__dict__.pop("apps", None)
        # What SchemaEditor.__exit__ does: run the deferred SQL (indexes, FKs).
        for item in editor.deferred_sql:
            before = len(editor.collected_sql)
            editor.execute(item, None)
            owner = self.deferred_owner.get(id(item), len(self.ops) - 1)
            for i in range(before, len(editor.collected_sql)):
                self.statements.append(self._statement(i, owner, deferred=True))
        return CollectedMigration(
            app_label=app_label,
            name=migration.name,
            file=self.relative(path),
            atomic=bool(migration.atomic),
            initial=bool(getattr(migration, "initial", False)),
            replaces=tuple(tuple(r) for r in migration.replaces),  # type: ignore[misc]
            dependencies=tuple(tuple(d) for d in migration.dependencies),  # type: ignore[misc]
            operations=tuple(self.ops),
            statements=tuple(self.statements),
            vendor=self.connection.vendor,
            server_version=_server_version(self.connection),
            ignore=dict(getattr(migration, "safe_migrations_ignore", {}) or {}),
            phase_marker=getattr(migration, "safe_migrations_phase", None),
        )

    def _statement(self, i: int, position: int, *, deferred: bool = False) -> CollectedStatement:
        parents, proven, index_columns = self.editor.safe_migrations_notes.get(i, ((), (), ()))
        return CollectedStatement(
            self.editor.collected_sql[i],
            position,
            deferred=deferred,
            parents=parents,
            proven_not_null=proven,
            index_columns=index_columns,
        )

    def _run(
        self,
        app_label: str,
        operation: Any,
        state: ProjectState,
        path: tuple[int, ...],
        *,
        database_only: bool,
    ) -> None:
        editor = self.editor
        before_model, after_model, before_field, after_field = _targets(operation)
        is_split = isinstance(operation, SeparateDatabaseAndState)
        if is_split or self.faithful:
            need: Any = ministate.FULL
        else:
            need = ministate.needs(operation, app_label, state)
        model_before = _model_state_facts(state, app_label, before_model)
        if need == ministate.FULL or need is None:
            self.last_mini = None
        if need == ministate.FULL:
            old_state = state.clone()  # the state is kept unrendered, so this is cheap
            operation.state_forwards(app_label, state)
            from_state, to_state = old_state, state
        elif need is None:  # RunSQL, RunPython: their SQL does not read the state
            operation.state_forwards(app_label, state)
            from_state = to_state = old_state = state
        else:
            key = ministate.model_key(operation, app_label)
            keep = tuple(need)
            wider = self.keeps.get(key)
            if wider is not None and (wider == ministate.ALL or set(keep) <= set(wider)):
                keep = wider
            if self.last_mini is not None and self.last_mini[0] == (key, keep):
                from_state = self.last_mini[1]  # unchanged since the previous operation
            elif key in state.models:
                from_state = ministate.mini_state(state, key, keep)
            else:
                from_state = ProjectState()
            operation.state_forwards(app_label, state)
            to_state = ministate.mini_state(state, key, keep) if key in state.models else ProjectState()
            self.last_mini = ((key, keep), to_state)
            old_state = from_state
        model_after = _model_state_facts(state, app_label, after_model)
        position = len(self.ops)
        old_model = _get_model(from_state, app_label, before_model) if need is not None else None
        new_model = _get_model(to_state, app_label, after_model) if need is not None else None
        old_field = _field(old_model, before_field)
        new_field = _field(new_model, after_field)
        is_split = isinstance(operation, SeparateDatabaseAndState)
        facts = OperationFacts(
            position=position,
            index=path[0],
            sub_path=path[1:],
            kind=type(operation).__name__,
            path=f"{type(operation).__module__}.{type(operation).__qualname__}",
            describe=operation.describe(),
            line=self.lines.get(path),
            reduces_to_sql=bool(operation.reduces_to_sql),
            atomic=getattr(operation, "atomic", None),
            elidable=bool(getattr(operation, "elidable", False)),
            database_only=database_only,
            state_only=is_split,
            app_label=app_label,
            model_name=after_model or before_model,
            field_name=after_field or before_field,
            model_before=model_before,
            model_after=model_after,
            old_field=self.facts.field(old_field) if old_field is not None else None,
            new_field=self.facts.field(new_field) if new_field is not None else None,
            runpython=_runpython_facts(operation) if isinstance(operation, RunPython) else None,
            has_reverse=bool(operation.reversible),
            code=_operation_code(operation),
            kwargs_code=_operation_kwargs(operation),
            **(
                _runsql_facts(operation, state, app_label, self.connection)
                if isinstance(operation, RunSQL)
                else {}
            ),
            **(
                _index_facts(operation, new_model, self.connection) if isinstance(operation, AddIndex) else {}
            ),
        )
        self.ops.append(facts)
        if not operation.reduces_to_sql:
            return  # Django prints "THIS OPERATION CANNOT BE WRITTEN AS SQL"
        if is_split:
            # SeparateDatabaseAndState.database_forwards, one database operation at a time.
            from_state = old_state
            for i, db_operation in enumerate(operation.database_operations):
                to_state = from_state.clone()
                self._run(app_label, db_operation, to_state, (*path, i), database_only=True)
                from_state = to_state
            return
        deferred_before = {id(d) for d in editor.deferred_sql}
        start = len(editor.collected_sql)
        editor.safe_migrations_old_state = from_state  # for emulated introspection
        try:
            operation.database_forwards(app_label, editor, from_state, to_state)
        finally:
            if not self.faithful:
                # Keep the project state unrendered: Django would otherwise re-render
                # every related model on each later state change.
                state.__dict__.pop("apps", None)
        for i in range(start, len(editor.collected_sql)):
            self.statements.append(self._statement(i, position))
        for item in editor.deferred_sql:
            if id(item) not in deferred_before:
                self.deferred_owner[id(item)] = position


def _field(model: Any, name: str | None) -> Any:
    if model is None or not name:
        return None
    try:
        return model._meta.get_field(name)
    except Exception:  # noqa: BLE001 - FieldDoesNotExist
        return None


def _operation_code(operation: Any) -> str:
    try:
        return as_written(OperationWriter(operation, indentation=0).serialize()[0].rstrip().rstrip(","))
    except Exception:  # noqa: BLE001 - custom operations may not serialize
        return repr(operation)


def _operation_kwargs(operation: Any) -> tuple[tuple[str, str], ...]:
    try:
        _, args, kwargs = operation.deconstruct()
    except Exception:  # noqa: BLE001 - custom operations
        return ()
    out = [(f"_{i}", serialize(a)) for i, a in enumerate(args)]
    out += [(k, serialize(v)) for k, v in kwargs.items()]
    return tuple(out)


def _column(name: str, field: Any) -> str | None:
    if field.many_to_many:
        return None
    if field.db_column:
        return str(field.db_column)
    return f"{name}_id" if field.is_relation else name


def _db_table(model_state: Any) -> str:
    from django.db.backends.utils import truncate_name

    table = model_state.options.get("db_table")
    if table:
        return str(table)
    return truncate_name(f"{model_state.app_label}_{model_state.name_lower}", 63)


def _state_tables(state: ProjectState) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every table the model state knows, with its columns (for hand-written SQL)."""
    from django.db.backends.utils import truncate_name

    tables = []
    for model_state in state.models.values():
        columns = tuple(c for n, f in model_state.fields.items() if (c := _column(n, f)))
        table = _db_table(model_state)
        tables.append((table, columns))
        for name, field in model_state.fields.items():
            remote = getattr(field, "remote_field", None)
            if not getattr(field, "many_to_many", False) or getattr(remote, "through", None):
                continue  # an explicit through model is a model of its own
            # Django's auto-created through table (ManyToManyField._get_m2m_db_table).
            m2m_table = getattr(field, "db_table", None) or truncate_name(f"{table}_{name}", 63)
            source = model_state.name_lower
            target = _target_name(model_state.app_label, getattr(remote, "model", ""))
            if target == source:
                ends = (f"from_{source}_id", f"to_{source}_id")
            else:
                ends = (f"{source}_id", f"{target}_id")
            tables.append((m2m_table, ("id", *ends)))
    return tuple(tables)


def _target_name(app_label: str, reference: Any) -> str:
    if isinstance(reference, str):
        return reference.split(".")[-1].lower() if reference != "self" else ""
    return str(getattr(getattr(reference, "_meta", None), "model_name", ""))


def _model_state_facts(state: ProjectState, app_label: str, name: str | None) -> ModelFacts | None:
    """The model as the state knows it (no rendering): table and NOT NULL checks."""
    if not name:
        return None
    model_state = state.models.get((app_label, name.lower()))
    if model_state is None:
        return None
    return ModelFacts(
        app_label=model_state.app_label,
        name=model_state.name,
        db_table=_db_table(model_state),
        not_null_checks=_not_null_checks(model_state),
    )


def _not_null_checks(model_state: Any) -> tuple[tuple[str, str], ...]:
    """(constraint name, column) of the model's CheckConstraint(Q(col__isnull=False))."""
    checks = []
    for constraint in model_state.options.get("constraints", ()):
        condition = getattr(constraint, "condition", None) or getattr(constraint, "check", None)
        children = getattr(condition, "children", None)
        if not children or len(children) != 1 or getattr(condition, "negated", False):
            continue
        child = children[0]
        if isinstance(child, tuple) and child[0].endswith("__isnull") and child[1] is False:
            field_name = child[0][: -len("__isnull")]
            field = model_state.fields.get(field_name)
            column = _column(field_name, field) if field is not None else None
            if column:
                checks.append((constraint.name, column))
    return tuple(checks)


def _runsql_facts(operation: RunSQL, state: ProjectState, app_label: str, connection: Any) -> dict[str, Any]:
    """What rules and fixes read of hand-written SQL and the model state it runs against."""
    sql = _sql_text(operation.sql)
    model = _sql_model(state, sql)
    locked = _locked_models(state, sql)
    return {
        "sql_text": sql,
        "reverse_sql": _sql_text(operation.reverse_sql),
        "state_tables": _state_tables(state),
        "state_not_null": _state_not_null(state),
        "sql_model": model,
        "sql_required_fields": _required_fields(state, app_label, model),
        "state_nullable": _state_nullable(locked),
        "state_column_types": _state_column_types(locked, connection),
    }


def _index_facts(operation: AddIndex, model: Any, connection: Any) -> dict[str, Any]:
    """(column, field name, db type) of each field an AddIndex (or AddIndexConcurrently)
    keys on: the SQL names the columns, only the state knows their types. Computed for
    index operations only, on the model their SQL renders anyway."""
    fields = []
    for name in getattr(operation.index, "fields", None) or ():
        field = _field(model, name.lstrip("-"))
        if field is None or not field.column:
            continue
        fields.append((str(field.column), str(field.name), _db_type(field, connection)))
    return {"index_fields": tuple(fields)}


def _sql_model(state: ProjectState, sql: str | None) -> str | None:
    """The model (lower-case name) owning the first table hand-written SQL touches, if any."""
    if not sql:
        return None
    from .parsing.postgres import parse_items

    owners = {_db_table(m).replace('"', ""): m.name_lower for m in state.models.values()}
    try:
        for _, _, _, locks in parse_items(sql):
            for lock in locks:
                if lock.table in owners:
                    return owners[lock.table]
    except Exception:  # noqa: BLE001 - not PostgreSQL SQL: no model named
        return None
    return None


def _required_fields(
    state: ProjectState, app_label: str, model_name: str | None
) -> tuple[tuple[str, str, str], ...]:
    """(column, field name, code of the field with null=False) for the model a RunSQL
    touches: what a fix's state operation declares when the SQL makes a column NOT NULL."""
    model_state = state.models.get((app_label, model_name)) if model_name else None
    if model_state is None:
        return ()
    out = []
    for name, field in model_state.fields.items():
        column = _column(name, field)
        if not column or getattr(field, "many_to_many", False):
            continue
        required = field.clone()
        required.null = False
        out.append((column, name, serialize(required)))
    return tuple(out)


def _state_not_null(state: ProjectState) -> tuple[str, ...]:
    """``table.column`` proven non-null by a model's CHECK, for hand-written SET NOT NULL."""
    out = []
    for model_state in state.models.values():
        checks = _not_null_checks(model_state)
        if checks:
            table = _db_table(model_state).replace('"', "")  # '"schema"."table"' as pglast names it
            out += [f"{table}.{column}" for _, column in checks]
    return tuple(out)


def _locked_models(state: ProjectState, sql: str | None) -> list[tuple[str, Any]]:
    """(table as pglast names it, model state) of the models whose tables hand-written SQL
    locks. Only those: a RunSQL's facts must stay cheap on a big state."""
    from .parsing.postgres import parse_items

    if not sql:
        return []
    try:
        tables = {lock.table for *_, locks in parse_items(sql) for lock in locks}
    except Exception:  # noqa: BLE001 - not PostgreSQL SQL: no table named
        return []
    out = []
    for model_state in state.models.values():
        table = _db_table(model_state).replace('"', "")  # '"schema"."table"' as pglast names it
        if table in tables:
            out.append((table, model_state))
    return out


def _state_nullable(locked: list[tuple[str, Any]]) -> tuple[str, ...]:
    """``table.column`` the state declares null=True, for the tables hand-written SQL locks:
    SQL that makes a column NOT NULL (a primary key USING INDEX) scans the table for NULLs
    unless proven."""
    out = []
    for table, model_state in locked:
        for name, field in model_state.fields.items():
            if getattr(field, "null", False) and (column := _column(name, field)):
                out.append(f"{table}.{column}")
    return tuple(out)


def _state_column_types(locked: list[tuple[str, Any]], connection: Any) -> tuple[tuple[str, str], ...]:
    """(``table.column``, database type) of the plain columns of the tables hand-written SQL
    locks: a CREATE INDEX names columns, only the state knows their types."""
    out = []
    for table, model_state in locked:
        for name, field in model_state.fields.items():
            if field.is_relation or not (column := _column(name, field)):
                continue
            if db_type := _db_type(field, connection):
                out.append((f"{table}.{column}", db_type))
    return tuple(out)


def _server_version(connection: Any) -> int | None:
    if connection.vendor != "postgresql":
        return None
    version = connection.__dict__.get("pg_version")
    return None if version is None else int(version) // 10000


@contextlib.contextmanager
def _default_connection_direct() -> Iterator[None]:
    """Rendering a model reads ``connection.ops.max_name_length()`` (Options, a local
    ``from django.db import connection``) through ConnectionProxy: an asgiref Local lookup
    per model, about 2% of a cold run. For the walk, ``django.db.connection`` is the object
    the proxy returns in this thread (the run is single-threaded)."""
    import django.db

    proxy = django.db.connection
    django.db.connection = django.db.connections[django.db.DEFAULT_DB_ALIAS]
    try:
        yield
    finally:
        django.db.connection = proxy


def _state_before(graph: Any, plan: list[Key], position: int, real_apps: Iterable[str]) -> ProjectState:
    """The state after every migration walked before ``position`` (this one left out)."""
    if position == 0:
        return ProjectState(real_apps=set(real_apps))
    return graph.make_state(nodes=plan[:position], at_end=True, real_apps=set(real_apps))


def _error(
    what: str, exc: Exception, key: Key, collector: MigrationCollector, files: dict[Key, Path]
) -> LoadError:
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else ""
    return LoadError(
        f"{what}: {type(exc).__name__}: {detail}", key[0], key[1], collector.relative(files.get(key))
    )


def walk(
    graph: Any,
    plan: list[Key],
    selected: set[Key],
    collector: MigrationCollector,
    files: dict[Key, Path],
    *,
    real_apps: Iterable[str] = (),
    replay: dict[Key, CollectedMigration] | None = None,
) -> Iterator[WalkItem]:
    """Yield a WalkItem for every selected migration, in plan order.

    Migrations in ``replay`` (answered from the cache) are not collected again,
    but their SQL is fed to the offline catalogue so later ones see its names.
    """
    with _default_connection_direct():
        yield from _walk(graph, plan, selected, collector, files, real_apps, replay)


def _walk(
    graph: Any,
    plan: list[Key],
    selected: set[Key],
    collector: MigrationCollector,
    files: dict[Key, Path],
    real_apps: Iterable[str],
    replay: dict[Key, CollectedMigration] | None,
) -> Iterator[WalkItem]:
    state = ProjectState(real_apps=set(real_apps))
    last = max((i for i, key in enumerate(plan) if key in selected), default=-1)
    for position, key in enumerate(plan[: last + 1]):
        migration = graph.nodes[key]
        if key not in selected:
            state.__dict__.pop("apps", None)  # state changes stay cheap while unrendered
            try:
                state = migration.mutate_state(state, preserve=False)
            except Exception as exc:  # noqa: BLE001 - e.g. the second branch of a conflict
                state = _state_before(graph, plan, position, real_apps)
                yield WalkItem(
                    key, error=_error("cannot apply it to the model state", exc, key, collector, files)
                )
                continue
            if replay and key in replay:
                collector.replay(replay[key])
            else:
                collector.replay_hand_written(migration)
            continue
        try:
            collected = collector.collect(migration, state, files.get(key))
        except Exception as exc:  # noqa: BLE001 - a user migration Django cannot render
            # The state may be half-mutated: rebuild it from everything walked so far,
            # this migration included (rare path), or without it when its own state change
            # is what fails (the second branch of conflicting leaves removing a field twice).
            try:
                state = graph.make_state(nodes=plan[: position + 1], at_end=True, real_apps=set(real_apps))
            except Exception:  # noqa: BLE001
                state = _state_before(graph, plan, position, real_apps)
            yield WalkItem(key, error=_error("cannot generate SQL", exc, key, collector, files))
            continue
        yield WalkItem(key, collected=collected)
