"""What the collector learned about each migration: plain, picklable data, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldFacts:
    """A Django field as the database sees it, taken from a model state."""

    name: str
    column: str | None
    path: str  # dotted class path, e.g. "django.db.models.CharField"
    internal_type: str
    db_type: str | None
    null: bool
    unique: bool
    primary_key: bool
    db_index: bool
    has_default: bool
    default_callable: bool
    default_code: str | None  # Python source of the default (serialized)
    has_db_default: bool
    db_default_code: str | None
    max_length: int | None
    is_relation: bool
    many_to_many: bool
    related_model: str | None  # "app_label.ModelName"
    related_table: str | None
    db_constraint: bool
    generated: bool
    db_persist: bool
    code: str  # the field as Django code, e.g. "models.CharField(max_length=100)"
    class_code: str = ""  # e.g. "models.CharField"
    kwargs_code: tuple[tuple[str, str], ...] = ()  # deconstructed keyword arguments as code

    def with_kwargs(self, **changes: str | None) -> str:
        """The field as code with some keyword arguments replaced (None removes one)."""
        kwargs = dict(self.kwargs_code)
        for key, value in changes.items():
            if value is None:
                kwargs.pop(key, None)
            else:
                kwargs[key] = value
        args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        return f"{self.class_code}({args})"


@dataclass(frozen=True)
class ModelFacts:
    """A model as the migration state knows it (the fields an operation touches are
    in OperationFacts.old_field/new_field)."""

    app_label: str
    name: str  # ModelName as written
    db_table: str
    not_null_checks: tuple[tuple[str, str], ...] = ()  # (constraint name, column) CHECK col IS NOT NULL


@dataclass(frozen=True)
class RunPythonFacts:
    code: str  # dotted name of the forwards callable
    reverse_code: str | None  # None: no reverse at all
    reverse_is_noop: bool
    elidable: bool
    source: str | None  # source text of the forwards callable, when available


@dataclass(frozen=True)
class OperationFacts:
    """One migration operation, with the SQL it emitted and its models before/after."""

    position: int  # index in CollectedMigration.operations
    index: int  # index in migration.operations (top level)
    sub_path: tuple[int, ...]  # indexes inside SeparateDatabaseAndState, outermost first
    kind: str  # class name, e.g. "AddField"
    path: str  # dotted class path
    describe: str
    line: int | None
    reduces_to_sql: bool
    atomic: bool | None  # operation.atomic as declared (RunSQL/RunPython)
    elidable: bool
    database_only: bool  # a database_operation of SeparateDatabaseAndState
    state_only: bool  # changes the state, emits no SQL by construction
    app_label: str
    model_name: str | None
    field_name: str | None
    model_before: ModelFacts | None
    model_after: ModelFacts | None
    old_field: FieldFacts | None
    new_field: FieldFacts | None
    runpython: RunPythonFacts | None = None
    sql_text: str | None = None  # RunSQL's forwards SQL as written
    reverse_sql: str | None = None
    has_reverse: bool = True
    code: str = ""  # the operation as Django code
    kwargs_code: tuple[tuple[str, str], ...] = ()  # deconstructed arguments as code
    state_tables: tuple[tuple[str, tuple[str, ...]], ...] = ()  # RunSQL: tables/columns the state knows
    state_not_null: tuple[str, ...] = ()  # RunSQL: table.column a model's CHECK (col IS NOT NULL) proves
    sql_model: str | None = None  # RunSQL: the model owning the first table its SQL touches
    sql_required_fields: tuple[tuple[str, str, str], ...] = ()  # RunSQL: (column, name, NOT NULL field code)
    state_nullable: tuple[str, ...] = ()  # RunSQL: table.column the model state declares null=True
    # RunSQL: (table.column, db type) of the plain columns of the tables it locks
    state_column_types: tuple[tuple[str, str], ...] = ()
    index_fields: tuple[tuple[str, str, str | None], ...] = ()  # AddIndex: (column, field, db type) per key

    def kwarg(self, name: str) -> str | None:
        return dict(self.kwargs_code).get(name)


@dataclass(frozen=True)
class CollectedStatement:
    """One item the schema editor executed (it may hold several SQL statements)."""

    sql: str
    position: int  # OperationFacts.position that produced it
    deferred: bool = False  # run by the schema editor at the end of the migration
    parents: tuple[str, ...] = ()  # tables it locks ACCESS EXCLUSIVE through a dropped foreign key
    proven_not_null: tuple[str, ...] = ()  # table.column of SET NOT NULL a validated CHECK proves
    # (index, key columns) of each index the SQL attaches as a constraint (USING INDEX),
    # as the catalogue knew it before the SQL ran: the SQL names the index, not its columns.
    index_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class CollectedMigration:
    app_label: str
    name: str
    file: str | None  # relative to the project root
    atomic: bool
    initial: bool
    replaces: tuple[tuple[str, str], ...]
    dependencies: tuple[tuple[str, str], ...]
    operations: tuple[OperationFacts, ...]
    statements: tuple[CollectedStatement, ...]
    vendor: str
    server_version: int | None
    ignore: dict[str, str] = field(default_factory=dict)  # safe_migrations_ignore
    phase_marker: str | None = None  # safe_migrations_phase
    lock_timeout: bool = False  # the migration sets lock_timeout itself

    @property
    def key(self) -> tuple[str, str]:
        return (self.app_label, self.name)

    def index_columns(self, position: int) -> dict[str, tuple[str, ...]]:
        """Key columns of the indexes operation ``position`` attaches with USING INDEX."""
        return {
            index: columns
            for st in self.statements
            if st.position == position
            for index, columns in st.index_columns
        }

    def sqlmigrate_lines(self, can_rollback_ddl: bool = True) -> list[str]:
        """The SQL as ``sqlmigrate`` prints it (BEGIN/COMMIT, operation comments)."""
        lines: list[str] = []
        by_position: dict[int, list[CollectedStatement]] = {}
        for st in self.statements:
            if not st.deferred:
                by_position.setdefault(st.position, []).append(st)
        for op in self.operations:
            if op.database_only:
                continue  # its SQL is printed under its SeparateDatabaseAndState
            lines += ["--", f"-- {op.describe}", "--"]
            if not op.reduces_to_sql:
                lines.append("-- THIS OPERATION CANNOT BE WRITTEN AS SQL")
                continue
            emitted = [
                st.sql
                for other in self.operations
                if other.index == op.index
                for st in by_position.get(other.position, ())
            ]
            lines += emitted or ["-- (no-op)"]
        lines += [st.sql for st in self.statements if st.deferred]
        if not lines:
            return []  # sqlmigrate prints "No operations found." and no BEGIN/COMMIT
        if self.atomic and can_rollback_ddl:
            lines = ["BEGIN;", *lines, "COMMIT;"]
        return lines
