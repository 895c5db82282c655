"""The safe multi-step recipes (RULES.md section 3) filled in with the user's names, as Django code."""

from __future__ import annotations

import ast as pyast
import importlib.util
import re
import textwrap
from functools import lru_cache

from ..facts import FieldFacts, OperationFacts
from ..findings import Fix
from . import engines

LOCK_TIMEOUT_ATOMIC = "migrations.RunSQL(\"SET LOCAL lock_timeout = '2s'\", migrations.RunSQL.noop),"
LOCK_TIMEOUT_SESSION = "migrations.RunSQL(\"SET lock_timeout = '2s'\", migrations.RunSQL.noop),"


def q(identifier: str) -> str:
    """A quoted SQL identifier, as Django writes them for PostgreSQL; ``schema.table`` quotes
    each part."""
    return engines.quote(engines.POSTGRESQL, identifier)


def bare(table: str) -> str:
    """The table name without its schema, to build index, constraint and trigger names from."""
    return table.rsplit(".", 1)[-1]


def py(text: str) -> str:
    """A Python string literal for SQL text."""
    return repr(text)


_STRINGS_AND_COMMENTS = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|#[^\n]*")
_DOTTED_NAME = re.compile(r"(?<![\w.])([a-z_]\w*(?:\.[A-Za-z_]\w*)+)")
# Names a migration's code uses without importing them (or imports from django.db itself).
_NOT_MODULES = frozenset({"models", "migrations", "transaction", "apps", "schema_editor", "self", "settings"})


@lru_cache(maxsize=512)
def _module_of(dotted: str) -> str | None:
    """The longest importable module prefix of ``dotted`` (``django.db.models.deletion``)."""
    parts = dotted.split(".")
    if parts[0] in _NOT_MODULES:
        return None
    for end in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:end])
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return None


def imports_for(code: str) -> tuple[str, ...]:
    """The import lines ``code`` needs beyond ``from django.db import migrations, models``,
    as makemigrations writes them (``import django.db.models.deletion``)."""
    bare = _STRINGS_AND_COMMENTS.sub("''", code)
    found: list[str] = []
    if re.search(r"(?<![\w.])settings\.", bare):
        found.append("from django.conf import settings")
    for match in _DOTTED_NAME.finditer(bare):
        module = _module_of(match.group(1))
        if module is not None and f"import {module}" not in found:
            found.append(f"import {module}")
    return tuple(found)


def migration(
    title: str,
    operations: list[str],
    *,
    atomic: bool = True,
    imports: tuple[str, ...] = (),
    phase: str | None = None,
) -> str:
    """One migration file's body, as makemigrations lays it out."""
    needed = [i for i in imports_for("\n".join(operations)) if i not in imports]
    lines = [f"# {title}", "from django.db import migrations, models", *imports, *needed, "", ""]
    lines.append("class Migration(migrations.Migration):")
    if not atomic:
        lines.append("    atomic = False")
    if phase:
        lines.append(f'    safe_migrations_phase = "{phase}"')
    lines.append("    dependencies = [...]  # as makemigrations wrote them")
    lines.append("    operations = [")
    for op in operations:
        lines.append(textwrap.indent(op, " " * 8))
    lines.append("    ]")
    return "\n".join(lines)


def rebuild_index(create: str, drop: str) -> str:
    """RunSQL building an index concurrently, dropping its name first: a failed or cancelled
    CREATE INDEX CONCURRENTLY leaves an INVALID index under the name, which IF NOT EXISTS keeps
    on the retry (and ADD CONSTRAINT ... USING INDEX then fails on it). Each list item runs on
    its own in the atomic = False migration."""
    return f"migrations.RunSQL([{py(drop)}, {py(create)}], reverse_sql={py(drop)}),"


def _model(op: OperationFacts) -> str:
    return op.model_name or op.sql_model or "model"


def op_call(op: OperationFacts, **changes: str) -> str:
    """The operation as one line of Django code, some keyword arguments replaced."""
    kwargs = dict(op.kwargs_code)
    kwargs.update(changes)
    args = [v for k, v in kwargs.items() if k.startswith("_")]
    args += [f"{k}={v}" for k, v in kwargs.items() if not k.startswith("_")]
    module = "migrations" if op.path.startswith("django.db.migrations") else op.path.rsplit(".", 1)[0]
    return f"{module}.{op.kind}({', '.join(args)})"


def index_concurrently(op: OperationFacts, create_sql: list[str], drop_sql: list[str]) -> Fix:
    """R8: build the index with CONCURRENTLY in a non-atomic migration."""
    title = "Build the index with CREATE INDEX CONCURRENTLY in its own atomic = False migration"
    imports = ("from django.contrib.postgres.operations import AddIndexConcurrently",)
    if op.kind == "AddIndex" and op.kwarg("index"):
        code = migration(
            "release N, a migration of its own",
            [f"AddIndexConcurrently(model_name={op.kwarg('model_name')}, index={op.kwarg('index')}),"],
            atomic=False,
            imports=imports,
        )
        steps = (
            "Move the AddIndex into a new migration with `atomic = False`.",
            "Replace AddIndex with django.contrib.postgres.operations.AddIndexConcurrently: the table "
            "stays writable while the index builds (SHARE UPDATE EXCLUSIVE).",
            "If the build fails it leaves an INVALID index: drop it and run the migration again.",
        )
        return Fix(title, steps, code)
    field = op.new_field if op.kind in ("AddField", "AlterField") else None
    first = []
    if field is not None:
        first.append(op_call(op, field=field.with_kwargs(db_index="False", unique=None)) + ",")
        # The field already exists in the state after migration 1: alter it to its final form.
        state_op = (
            f"migrations.AlterField(model_name={op.kwarg('model_name')}, name={op.kwarg('name')}, "
            f"field={field.code})"
        )
    else:
        state_op = op_call(op) if op.kwargs_code else f"migrations.{op.kind}(...)"
    second = [
        "migrations.SeparateDatabaseAndState(",
        "    database_operations=[",
        *(f"        {rebuild_index(c, d)}" for c, d in zip(create_sql, drop_sql, strict=True)),
        "    ],",
        f"    state_operations=[{state_op}],",
        "),",
    ]
    code_parts = []
    if first:
        code_parts.append(migration("migration 1 (atomic): the column, without its indexes", first))
    code_parts.append(
        migration(
            f"migration {len(code_parts) + 1} (atomic = False): the indexes, built concurrently",
            second,
            atomic=False,
        )
    )
    index_steps: list[str] = [
        "Add the field without db_index/unique first: the column alone is a brief catalogue change."
        if first
        else "",
        "In a separate migration with `atomic = False`, create the same index(es) with CREATE INDEX "
        "CONCURRENTLY through SeparateDatabaseAndState, one RunSQL per index, so Django's state "
        "still records them.",
        "If a build fails it leaves an INVALID index: each RunSQL drops the name first, so running "
        "the migration again rebuilds it.",
    ]
    if field is not None and field.unique:
        index_steps.insert(
            2,
            "For unique=True also build the unique index concurrently and attach it with "
            "ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX (see add-unique-constraint).",
        )
    return Fix(title, tuple(s for s in index_steps if s), "\n\n".join(code_parts))


def set_not_null(
    op: OperationFacts, table: str, column: str, server_version: int, django_version: tuple[int, int] = (5, 2)
) -> Fix:
    """R5: make a column NOT NULL without a long ACCESS EXCLUSIVE scan."""
    model = op.kwarg("model_name") or py(_model(op))
    name = op.kwarg("name") or py(op.field_name or column)
    field = op.new_field.code if op.new_field else "models.Field(...)"
    for known_column, known_name, code in op.sql_required_fields:
        if op.new_field is None and known_column == column:  # hand-written SQL on a model's column
            name, field = py(known_name), code
    constraint = f"{bare(table)}_{column}_notnull"[:63]
    if server_version >= 18:
        code = "\n\n".join(
            [
                migration(
                    "migration A: NOT NULL constraint, not yet validated (instant)",
                    [
                        LOCK_TIMEOUT_ATOMIC,
                        f"migrations.RunSQL({py(f'ALTER TABLE {q(table)} ADD CONSTRAINT {q(constraint)} NOT NULL {q(column)} NOT VALID')},",
                        f"    reverse_sql={py(f'ALTER TABLE {q(table)} DROP CONSTRAINT {q(constraint)}')}),",
                    ],
                ),
                migration(
                    "migration B: validate (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
                    [
                        "migrations.SeparateDatabaseAndState(",
                        f"    database_operations=[migrations.RunSQL({py(f'ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(constraint)}')}, migrations.RunSQL.noop)],",
                        f"    state_operations=[migrations.AlterField(model_name={model}, name={name}, field={field})],",
                        "),",
                    ],
                ),
            ]
        )
        steps = (
            "Deploy code that never writes NULL to the column (or give the field a db_default).",
            "Backfill existing NULLs in batches in an atomic = False data migration.",
            "PostgreSQL 18: add the NOT NULL constraint NOT VALID (instant), then VALIDATE it in a "
            "separate migration, which scans under SHARE UPDATE EXCLUSIVE only.",
        )
        return Fix("Add NOT NULL as NOT VALID, then validate it (PostgreSQL 18)", steps, code)
    keyword = "condition" if django_version >= (5, 1) else "check"  # renamed in Django 5.1
    check = (
        f"models.CheckConstraint({keyword}=models.Q({op.field_name or column}__isnull=False), "
        f"name={py(constraint)})"
    )
    parts = [
        migration(
            "migration A (atomic): CHECK (col IS NOT NULL) NOT VALID, instant",
            [LOCK_TIMEOUT_ATOMIC, f"AddConstraintNotValid({model}, {check}),"],
            imports=("from django.contrib.postgres.operations import AddConstraintNotValid",),
        ),
        migration(
            "migration B: validate the CHECK (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
            [f"ValidateConstraint({model}, {py(constraint)}),"],
            imports=("from django.contrib.postgres.operations import ValidateConstraint",),
        ),
    ]
    check_steps: list[str] = [
        "Deploy code that never writes NULL to the column (or give the field a db_default).",
        "Backfill existing NULLs in batches in an atomic = False data migration.",
        "Add CHECK (column IS NOT NULL) as NOT VALID: instant, brief ACCESS EXCLUSIVE.",
        "Validate it in a separate migration: a scan under SHARE UPDATE EXCLUSIVE, traffic goes on.",
    ]
    if server_version >= 12:
        parts.append(
            migration(
                "migration C (atomic): SET NOT NULL uses the validated CHECK, no scan (PostgreSQL 12+)",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    "migrations.SeparateDatabaseAndState(",
                    "    database_operations=[migrations.RunSQL(",
                    f"        {py(f'ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET NOT NULL')},",
                    f"        reverse_sql={py(f'ALTER TABLE {q(table)} ALTER COLUMN {q(column)} DROP NOT NULL')},",
                    "    )],",
                    f"    state_operations=[migrations.AlterField(model_name={model}, name={name}, field={field})],",
                    "),",
                    f"migrations.RemoveConstraint({model}, {py(constraint)}),",
                ],
            )
        )
        check_steps.append(
            "SET NOT NULL through SeparateDatabaseAndState (PostgreSQL 12+ skips the scan thanks to "
            "the validated CHECK), then drop the CHECK. A plain AlterField would also run Django's "
            "whole-table UPDATE when the field has a default."
        )
    else:
        check_steps.append(
            f"PostgreSQL {server_version} still scans on SET NOT NULL even with the CHECK: keep the "
            "validated CHECK as the guarantee and skip SET NOT NULL until you upgrade to 12+."
        )
    return Fix(
        "Make the column NOT NULL in three steps: CHECK NOT VALID, VALIDATE, SET NOT NULL",
        tuple(check_steps),
        "\n\n".join(parts),
    )


def change_type(
    op: OperationFacts,
    table: str,
    column: str,
    new_type: str | None,
    using: tuple[str, str] | None = None,
    *,
    server_version: int = 15,
    django_version: tuple[int, int] = (5, 2),
) -> Fix:
    """R10 with a database-only shadow column: add it with a sync trigger, backfill in
    batches, swap the names in one short transaction, NOT NULL (R5), drop the old copy.

    ``using``: the USING expression of the ALTER, when it has one: over the column, and over
    the trigger's NEW row.
    Without USING, ALTER TYPE assigns the old value, which fails on a value the new type
    cannot hold (a string longer than a shrunk varchar); the copy must fail the same way,
    so it assigns too, where a CAST to varchar(n) would silently truncate.
    """
    model = op.kwarg("model_name") or py(_model(op))
    field_name = op.kwarg("name") or py(op.field_name or column)
    sql_type = new_type or "new_type"
    new_col = f"{column}_new"[:63]
    old_col = f"{column}_old"[:63]
    trigger = f"{bare(table)}_{column}_sync"[:63]
    function = f"{trigger}_fn"[:63]
    value, new_value = using or (q(column), f"NEW.{q(column)}")
    add = [
        f"ALTER TABLE {q(table)} ADD COLUMN {q(new_col)} {sql_type} NULL",
        f"CREATE FUNCTION {q(function)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"NEW.{q(new_col)} := {new_value}; RETURN NEW; END $$",
        f"CREATE TRIGGER {q(trigger)} BEFORE INSERT OR UPDATE ON {q(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {q(function)}()",
    ]
    drop_trigger = [
        f"DROP TRIGGER IF EXISTS {q(trigger)} ON {q(table)}",
        f"DROP FUNCTION IF EXISTS {q(function)}()",
    ]
    remove = [*drop_trigger, f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(new_col)}"]
    swap = [
        *drop_trigger,
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(column)} TO {q(old_col)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(new_col)} TO {q(column)}",
    ]
    unswap = [
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(column)} TO {q(new_col)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(old_col)} TO {q(column)}",
        *add[1:],
    ]
    new_field = op.new_field
    final = new_field.code if new_field else "models.Field(...)"
    state = final
    not_null = new_field is not None and not new_field.null
    if not_null and new_field is not None:
        # Nothing writes the old copy any more: it must accept the rows that leave it out.
        swap.append(f"ALTER TABLE {q(table)} ALTER COLUMN {q(old_col)} DROP NOT NULL")
        unswap.insert(0, f"ALTER TABLE {q(table)} ALTER COLUMN {q(old_col)} SET NOT NULL")
        state = new_field.with_kwargs(null="True")  # the new column is nullable until R5 below
    old_type = op.old_field.db_type if op.old_field and op.old_field.db_type else "text"
    parts = [
        migration(
            "release N, migration 1 (atomic): a shadow column outside Django's state, and a "
            "trigger that fills it on every write",
            [LOCK_TIMEOUT_ATOMIC, f"migrations.RunSQL({add!r}, reverse_sql={remove!r}),"],
        ),
        _copy_in_batches(table, column, new_col, value),
        migration(
            "release N, migration 3 (atomic): swap the names in one short transaction; the column "
            "keeps its name, so the running code never notices",
            [
                LOCK_TIMEOUT_ATOMIC,
                "migrations.SeparateDatabaseAndState(",
                f"    database_operations=[migrations.RunSQL({swap!r}, reverse_sql={unswap!r})],",
                f"    state_operations=[migrations.AlterField(model_name={model}, name={field_name}, field={state})],",
                "),",
            ],
        ),
    ]
    if not_null:
        parts.append(set_not_null(op, table, column, server_version, django_version).code)
    parts.append(
        migration(
            "release N+1, after every old pod is gone: drop the old copy",
            [
                LOCK_TIMEOUT_ATOMIC,
                f"migrations.RunSQL({py(f'ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(old_col)}')},",
                f"    reverse_sql={py(f'ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(old_col)} {old_type} NULL')}),",
            ],
            phase="post-deploy",
        )
    )
    steps = [
        f"Add a nullable {sql_type} column with RunSQL only: Django's state never sees it, so the "
        "running code's SELECTs and INSERTs stay as they are. A trigger copies every write into it.",
        "Backfill the existing rows in batches (atomic = False, one short transaction per batch). "
        + (
            "The copy assigns the value as ALTER TYPE would: a value the new type cannot hold (a "
            "string longer than the new max_length) makes it fail instead of being truncated; "
            "shorten such values first."
            if not using
            else f"The copy uses the same conversion as the ALTER ({value})."
        ),
        "Swap the names in one short transaction through SeparateDatabaseAndState, which records the "
        "new field in the state; every statement has its reverse.",
    ]
    if not_null:
        steps.append(
            "The new column is nullable in the database: make it NOT NULL with the set-not-null recipe "
            "(CHECK NOT VALID, VALIDATE, SET NOT NULL), as the migrations above do."
        )
    steps.append("Drop the old copy in the next release, once no pod of the old release runs.")
    fields = [f for f in (op.old_field, new_field) if f is not None]
    if any(f.unique or f.db_index or f.primary_key for f in fields):
        steps.append(
            "The indexes and unique constraints of the column stay on the old copy: build the same "
            "ones on the new column with CREATE [UNIQUE] INDEX CONCURRENTLY before the swap, and "
            "attach a unique one with ADD CONSTRAINT ... UNIQUE USING INDEX in the swap (lintmigrations "
            "--plan writes all of it)."
        )
    return Fix(
        "Change the type through a shadow column: add, sync, backfill, swap", tuple(steps), "\n\n".join(parts)
    )


def drop_column(op: OperationFacts, table: str, column: str, vendor: str = engines.POSTGRESQL) -> Fix:
    """R1: remove from the model first, drop in the next release (SQL written for ``vendor``)."""
    model = op.kwarg("model_name") or py(_model(op))
    name = op.kwarg("name") or py(op.field_name or column)
    old = op.old_field
    first = []
    if old is not None and not old.null and not old.has_db_default:
        first.append(
            f"migrations.AlterField(model_name={model}, name={name}, field={old.with_kwargs(null='True')}),"
        )
    first += [
        "migrations.SeparateDatabaseAndState(",
        f"    state_operations=[migrations.RemoveField(model_name={model}, name={name})],",
        "    database_operations=[],",
        "),",
    ]
    column_type = old.db_type if old is not None and old.db_type else "text"
    if vendor == engines.POSTGRESQL:
        drop = f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}"
        add = f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(column)} {column_type} NULL"
    else:
        # DROP COLUMN IF EXISTS is PostgreSQL's (and MariaDB's, not MySQL's or SQLite's).
        t, c = engines.quote(vendor, table), engines.quote(vendor, column)
        drop = f"ALTER TABLE {t} DROP COLUMN {c}"
        add = f"ALTER TABLE {t} ADD {'' if vendor == 'oracle' else 'COLUMN '}{c} {column_type} NULL"
    code = "\n\n".join(
        [
            migration("release N: remove the field from the model, keep the column", first),
            migration(
                "release N+1, after every old pod is gone: drop the column",
                engines.with_lock_timeout(
                    vendor,
                    [
                        f"migrations.RunSQL({py(drop)},",
                        f"    reverse_sql={py(add)}),",
                    ],
                ),
                phase="post-deploy",
            ),
        ]
    )
    steps = [
        "Release N: delete the field from the model and remove it from the state only "
        "(SeparateDatabaseAndState); the column stays, so old pods keep working.",
        "Make the column nullable in the same migration, so the new code's INSERTs that omit it succeed."
        if first[0].startswith("migrations.AlterField")
        else "",
        "Release N+1, once no pod of the old release runs: drop the column with RunSQL "
        + (
            "and a short lock_timeout."
            if vendor == engines.POSTGRESQL
            else f"{engines.lock_timeout_phrase(vendor)}."
        ),
    ]
    if vendor == "sqlite":
        steps.append(
            "SQLite drops a column in place from version 3.35; it refuses one that is indexed, unique, "
            "a foreign key or used by a view or constraint: drop those first."
        )
    elif vendor == "mysql":
        steps.append(
            "MySQL and MariaDB refuse to drop a column that a foreign key constraint uses: drop the "
            "constraint first. The DDL commits on its own: the migration cannot roll it back."
        )
    return Fix(
        "Drop the column in two releases: state first, database later", tuple(s for s in steps if s), code
    )


def _copy_in_batches(table: str, column: str, new_col: str, value: str) -> str:
    """R10's backfill migration: copy the old column into the new one, batch by batch."""
    from .tables import Backfill, _sql_backfill

    job = Backfill(table, value, new_col, guard=True)
    return _sql_backfill([job], "release N, migration 2 (atomic = False): backfill in batches")


def _fill_in_batches(op: OperationFacts, field: FieldFacts, value: str) -> str:
    """R4/R9: fill a new nullable column with a constant, batch by batch."""
    from .tables import _orm_backfill

    model = op.model_name or op.sql_model or "model"
    return _orm_backfill(op.app_label, model, field.name, value)


def one_off_default(op: OperationFacts) -> tuple[str, bool] | None:
    """The default of AddField/AlterField(preserve_default=False), makemigrations' one-off
    value for the existing rows, as (code, is a constant); the state keeps no trace of it."""
    if op.kwarg("preserve_default") != "False" or not op.kwarg("field"):
        return None
    try:
        call = pyast.parse(op.kwarg("field") or "", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, pyast.Call):
        return None
    for keyword in call.keywords:
        if keyword.arg == "default":
            code = pyast.unparse(keyword.value)
            try:
                pyast.literal_eval(keyword.value)
            except ValueError:
                return code, False
            return code, True
    return None


def add_not_null_column(
    op: OperationFacts,
    field: FieldFacts,
    django_version: tuple[int, int],
    table: str | None = None,
    vendor: str = engines.POSTGRESQL,
    add_sql: str | None = None,
) -> Fix:
    """R4: keep the default in the database (db_default), or nullable first.

    ``add_sql``: Django's own ``ALTER TABLE ... ADD COLUMN ... DEFAULT ... NOT NULL`` for the
    field; before Django 5 (no db_default) it is run as is and the state told separately, so
    the database keeps the DEFAULT that old code's INSERTs need."""
    model = op.kwarg("model_name") or py(_model(op))
    name = op.kwarg("name") or py(field.name)
    if field.default_callable and table is not None:
        # One value per row, computed by Python: nullable first, per-row backfill (the
        # add-column-callable-default recipe; a Python default in AddField would still make
        # Django write one literal DEFAULT into every existing row).
        from .compat import callable_default

        return callable_default(op, field, table, field.column or field.name, django_version, vendor)
    one_off = one_off_default(op)
    default, constant = field.default_code, not field.default_callable
    if one_off is not None:
        default, constant = one_off
    if django_version >= (5, 0) and default is not None and constant:
        interim = field.with_kwargs(default=None, db_default=default)
        parts = [
            migration(
                "one migration: the database keeps the default (PostgreSQL 11+: no rewrite)",
                [f"migrations.AddField(model_name={model}, name={name}, field={interim}),"],
            )
        ]
        steps = [
            f"Declare the field with db_default={default} instead of default={default}: Django keeps "
            "the DEFAULT in the database, so INSERTs from old code that omit the column still succeed.",
            "On PostgreSQL 11+ a constant DEFAULT is stored in the catalogue: no table rewrite.",
        ]
        if one_off is not None:
            parts[0] = parts[0].replace("# one migration:", "# release N:", 1)
            parts.append(
                migration(
                    "release N+1, after every old pod is gone: the field as declared, without a default",
                    [
                        LOCK_TIMEOUT_ATOMIC,
                        f"migrations.AlterField(model_name={model}, name={name}, field={field.code}),",
                    ]
                    if vendor == engines.POSTGRESQL
                    else engines.with_lock_timeout(
                        vendor,
                        [f"migrations.AlterField(model_name={model}, name={name}, field={field.code}),"],
                    ),
                    phase="post-deploy",
                )
            )
            steps.append(
                f"{default} was a one-off default (preserve_default=False) for the existing rows: "
                "drop the database default in the next release, once no old pod inserts without "
                "the column."
            )
        return Fix("Use db_default so the database keeps the default", tuple(steps), "\n\n".join(parts))
    if django_version < (5, 0) and constant and add_sql and table and vendor == engines.POSTGRESQL:
        return _database_keeps_default(op, field, table, add_sql, one_off is not None)
    value = "None" if default is None else (default if constant else f"{default}()")
    nullable = field.with_kwargs(null="True", default=None) if one_off else field.with_kwargs(null="True")
    code = "\n\n".join(
        [
            migration(
                "release N, migration 1: the column, nullable",
                [f"migrations.AddField(model_name={model}, name={name}, field={nullable}),"],
            ),
            _fill_in_batches(op, field, value),
        ]
    )
    nullable_steps = (
        "Add the column as null=True; deploy code that writes it.",
        f"Backfill existing rows with {value} in batches in an atomic = False migration.",
        "Then make it NOT NULL with the set-not-null recipe (CHECK NOT VALID, VALIDATE, SET NOT NULL)."
        if vendor == engines.POSTGRESQL
        else "Then make it NOT NULL with AlterField(null=False) in a later release. (The set-not-null "
        "recipe, CHECK NOT VALID then VALIDATE, is PostgreSQL's.)",
    )
    return Fix("Add the column nullable first, backfill, then NOT NULL", nullable_steps, code)


def _database_keeps_default(
    op: OperationFacts, field: FieldFacts, table: str, add_sql: str, one_off: bool
) -> Fix:
    """Django < 5: Django's ADD COLUMN ... DEFAULT ... NOT NULL without its DROP DEFAULT, the
    state told through SeparateDatabaseAndState (the db_default recipe by hand)."""
    model = op.kwarg("model_name") or py(_model(op))
    name = op.kwarg("name") or py(field.name)
    column = field.column or field.name
    state_field = field.with_kwargs(default=None) if one_off else field.code
    drop_column = f"ALTER TABLE {q(table)} DROP COLUMN {q(column)}"
    parts = [
        migration(
            "release N: the column with its DEFAULT kept in the database (PostgreSQL 11+: no rewrite)",
            [
                LOCK_TIMEOUT_ATOMIC,
                "migrations.SeparateDatabaseAndState(",
                f"    database_operations=[migrations.RunSQL({py(add_sql.rstrip().rstrip(';'))}, {py(drop_column)})],",
                f"    state_operations=[migrations.AddField(model_name={model}, name={name}, field={state_field})],",
                "),",
            ],
        )
    ]
    steps = [
        "Django before 5.0 has no db_default and drops the DEFAULT right after adding the column: "
        "run its ADD COLUMN alone and tell the state with SeparateDatabaseAndState, so INSERTs from "
        "old code that omit the column still get the default.",
        "On PostgreSQL 11+ a constant DEFAULT is stored in the catalogue: no table rewrite.",
    ]
    if one_off:
        drop_default = f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} DROP DEFAULT"
        parts.append(
            migration(
                "release N+1, after every old pod is gone: the one-off default leaves the database",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    f"migrations.RunSQL({py(drop_default)}, migrations.RunSQL.noop),",
                ],
                phase="post-deploy",
            )
        )
        steps.append(
            "The default was a one-off value (preserve_default=False) for the existing rows: drop it "
            "from the database in the next release, once no old pod inserts without the column."
        )
    return Fix(
        "Keep the default in the database until the old code is gone", tuple(steps), "\n\n".join(parts)
    )


def runpython_reverse(op: OperationFacts) -> Fix:
    from .data import named_functions

    forwards, _, forwards_def, _ = named_functions(op)
    call = f"migrations.RunPython({forwards}, reverse_code=migrations.RunPython.noop)"
    if forwards_def is None:
        call = f"migrations.RunPython({op.kwarg('code') or op.kwarg('_0') or forwards}, reverse_code=migrations.RunPython.noop)"
    code = call if forwards_def is None else f"{forwards_def}\n\n# in the operations list:\n{call},"
    steps = [
        "Pass reverse_code: a function that undoes the change, or migrations.RunPython.noop when "
        "rolling back needs no data change.",
    ]
    if forwards_def is not None:
        steps.append(
            f"The code has no name to refer to (a lambda or a partial): define it as {forwards}() at "
            "the module level of the migration and pass that."
        )
    return Fix("Give RunPython a reverse_code", tuple(steps), code)
