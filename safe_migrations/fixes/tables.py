"""Recipes for the table rules (SM110-SM119), filled in with the user's names, as Django code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..facts import FieldFacts, OperationFacts
from ..findings import Fix
from .recipes import (
    LOCK_TIMEOUT_ATOMIC,
    LOCK_TIMEOUT_SESSION,
    bare,
    imports_for,
    migration,
    op_call,
    py,
    q,
    rebuild_index,
    set_not_null,
)

STATEMENT_TIMEOUT_ATOMIC = (
    "migrations.RunSQL(\"SET LOCAL statement_timeout = '1h'\", migrations.RunSQL.noop),"
)
STATEMENT_TIMEOUT_SESSION = "migrations.RunSQL(\"SET statement_timeout = '1h'\", migrations.RunSQL.noop),"
_INTEGER_TYPES = ("smallint", "integer", "bigint", "int", "int2", "int4", "int8")
BATCH = 10_000


def _name(*parts: str, suffix: str) -> str:
    """An identifier within PostgreSQL's 63 bytes, keeping the suffix."""
    base = "_".join(bare(p) for p in parts if p)
    return base[: 63 - len(suffix) - 1] + "_" + suffix


def _model(op: OperationFacts) -> str:
    return op.kwarg("model_name") or py(op.model_name or op.sql_model or "model")


def _runsql(sql: str, reverse: str | None) -> str:
    back = py(reverse) if reverse is not None else "migrations.RunSQL.noop"
    return f"migrations.RunSQL(\n    {py(sql)},\n    reverse_sql={back},\n),"


def _sync_trigger(
    table: str, pairs: Sequence[tuple[str, str]], expression: str | None = None
) -> tuple[str, str]:
    """A BEFORE INSERT OR UPDATE trigger copying column -> new column (or computing an
    expression over NEW), and the SQL dropping it."""
    target = pairs[0][1]
    function = _name(table, target, suffix="sync")
    trigger = function
    if expression is not None:
        body = f"NEW.{q(target)} := {expression};"
    else:
        body = " ".join(f"NEW.{q(new)} := NEW.{q(old)};" for old, new in pairs)
    create = (
        f"CREATE FUNCTION {q(function)}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} "
        f"RETURN NEW; END $$; CREATE TRIGGER {q(trigger)} BEFORE INSERT OR UPDATE ON {q(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {q(function)}()"
    )
    drop = f"DROP TRIGGER IF EXISTS {q(trigger)} ON {q(table)}; DROP FUNCTION IF EXISTS {q(function)}()"
    return create, drop


def _with_helpers(title: str, helpers: list[str], operations: list[str], *, atomic: bool) -> str:
    """A migration file with module-level helper code (a RunPython function) above the class."""
    body = migration(title, operations, atomic=atomic)
    _, _, tail = body.partition("\n\n\nclass Migration")
    head = [f"# {title}", "import time", "", "from django.db import migrations, models, transaction"]
    head += [line for line in imports_for("\n".join(helpers)) if line not in head]
    return (
        "\n".join(head)
        + "\n\n"
        + f"BATCH = {BATCH}\n\n\n"
        + "\n".join(helpers)
        + "\n\n\nclass Migration"
        + tail
    )


@dataclass(frozen=True)
class Backfill:
    """Fill ``target`` of ``table`` with the SQL expression ``source``.

    ``by``: an integer column to walk in ranges (uses its index); empty: batches by ctid.
    ``guard``: skip rows where ``source`` is NULL (else the ctid loop would never end).
    """

    table: str
    source: str
    target: str
    by: str = ""
    guard: bool = False


def _sql_backfill(jobs: Sequence[Backfill], title: str) -> str:
    """An atomic = False migration running the jobs in batches, one transaction per batch."""
    rows = []
    for job in jobs:
        guard = f" AND ({job.source}) IS NOT NULL" if job.guard else ""
        rows.append(
            f"        ({py(job.table)}, {py(job.source)}, {py(job.target)}, {py(job.by)}, {py(guard)}),"
        )
    helpers = [
        "def backfill(apps, schema_editor):",
        "    # each UPDATE touches at most BATCH rows in its own short transaction; safe to re-run",
        "    connection = schema_editor.connection",
        "    jobs = [  # (table, value, column to fill, integer column to walk or '', extra filter)",
        *rows,
        "    ]",
        "    for table, value, target, by, guard in jobs:",
        "        if by:",
        "            with connection.cursor() as cursor:",
        '                cursor.execute(f\'SELECT min("{by}"), max("{by}") FROM "{table}"\')',
        "                low, high = cursor.fetchone()",
        "            if low is None:",
        "                continue",
        "            for start in range(low, high + 1, BATCH):",
        "                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:",
        "                    cursor.execute(",
        '                        f\'UPDATE "{table}" SET "{target}" = {value} WHERE "{by}" >= %s \'',
        '                        f\'AND "{by}" < %s AND "{target}" IS NULL{guard}\',',
        "                        [start, start + BATCH],",
        "                    )",
        "                time.sleep(0.05)  # let replicas and autovacuum keep up",
        "            continue",
        "        while True:",
        "            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:",
        "                cursor.execute(",
        '                    f\'UPDATE "{table}" SET "{target}" = {value} WHERE ctid = ANY(ARRAY(\'',
        '                    f\'SELECT ctid FROM "{table}" WHERE "{target}" IS NULL{guard} LIMIT {BATCH}))\'',
        "                )",
        "                done = cursor.rowcount == 0",
        "            if done:",
        "                break",
        "            time.sleep(0.05)",
    ]
    return _with_helpers(
        title, helpers, ["migrations.RunPython(backfill, migrations.RunPython.noop),"], atomic=False
    )


def _orm_backfill(app_label: str, model: str, name: str, value_code: str) -> str:
    """R9: an atomic = False migration filling ``name`` with ``value_code`` in batches by pk."""
    helpers = [
        "def backfill(apps, schema_editor):",
        f"    Model = apps.get_model({py(app_label)}, {py(model)})",
        "    db = schema_editor.connection.alias",
        "    last = None",
        "    while True:",
        "        with transaction.atomic(using=db):  # one short transaction per batch",
        '            rows = Model.objects.using(db).order_by("pk")',
        "            if last is not None:",
        "                rows = rows.filter(pk__gt=last)",
        '            ids = list(rows.values_list("pk", flat=True)[:BATCH])',
        "            if not ids:",
        "                break",
        f"            Model.objects.using(db).filter(pk__in=ids, {name}__isnull=True).update({name}={value_code})",
        "        last = ids[-1]",
        "        time.sleep(0.05)  # let replicas and autovacuum keep up",
    ]
    return _with_helpers(
        "migration 2 (atomic = False): backfill the existing rows in batches",
        helpers,
        ["migrations.RunPython(backfill, migrations.RunPython.noop),"],
        atomic=False,
    )


# --- SM110 change-pk-type (R12) ---------------------------------------------------------------


@dataclass(frozen=True)
class ForeignKeyCopy:
    """A foreign key column Django retypes together with the primary key."""

    table: str
    column: str
    constraints: tuple[str, ...] = ()  # FK constraint names Django drops before the change
    definitions: tuple[str, ...] = ()  # ADD CONSTRAINT ... FOREIGN KEY clauses it adds back


def change_pk_type(
    op: OperationFacts,
    table: str,
    column: str,
    new_type: str,
    old_type: str | None,
    fks: Sequence[ForeignKeyCopy],
    server_version: int,
) -> Fix:
    """R12: new column + sync trigger, batched backfill, concurrent indexes, short swap."""
    new_col = f"{column}_new"
    pk_index = _name(table, new_col, suffix="uniq")
    pk_name = f"{bare(table)}_pkey"
    integer = (old_type or "").split("(")[0].strip() in _INTEGER_TYPES
    parts: list[str] = []

    tables = [table, *dict.fromkeys(fk.table for fk in fks if fk.table != table)]
    lock_all = f"LOCK TABLE {', '.join(q(t) for t in tables)} IN ACCESS EXCLUSIVE MODE"
    # Several tables: take every lock at once, referenced table first, so that no lock is
    # waited for while another one is already held (statement-after-access-exclusive).
    locks = [LOCK_TIMEOUT_ATOMIC, *([_runsql(lock_all, None)] if len(tables) > 1 else [])]
    first = list(locks)
    first.append(
        _runsql(
            f"ALTER TABLE {q(table)} ADD COLUMN {q(new_col)} {new_type} NULL",
            f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(new_col)}",
        )
    )
    triggers = [(table, *_sync_trigger(table, [(column, new_col)]))]
    for fk in fks:
        fk_new = f"{fk.column}_new"
        first.append(
            _runsql(
                f"ALTER TABLE {q(fk.table)} ADD COLUMN {q(fk_new)} {new_type} NULL",
                f"ALTER TABLE {q(fk.table)} DROP COLUMN IF EXISTS {q(fk_new)}",
            )
        )
        triggers.append((fk.table, *_sync_trigger(fk.table, [(fk.column, fk_new)])))
    for _, create, drop in triggers:
        first.append(_runsql(create, drop))
    parts.append(
        migration(
            "release N, migration 1 (atomic): new columns, kept in sync by triggers (not in the "
            "models: old and new code ignore them)",
            first,
        )
    )

    jobs = [Backfill(table, q(column), new_col, column if integer else "", guard=not integer)]
    jobs += [
        Backfill(fk.table, q(fk.column), f"{fk.column}_new", fk.column if integer else "", guard=not integer)
        for fk in fks
    ]
    parts.append(_sql_backfill(jobs, "release N, migration 2 (atomic = False): backfill in batches"))

    indexes = [
        (
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(pk_index)} ON {q(table)} ({q(new_col)})",
            f"DROP INDEX CONCURRENTLY IF EXISTS {q(pk_index)}",
        )
    ]
    for fk in fks:
        name = _name(fk.table, f"{fk.column}_new", suffix="idx")
        indexes.append(
            (
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {q(fk.table)} ({q(fk.column + '_new')})",
                f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}",
            )
        )
    for n, (create, drop) in enumerate(indexes, start=1):
        parts.append(
            migration(
                f"release N, migration 3.{n} (atomic = False): one concurrent index build per migration",
                [rebuild_index(create, drop)],
                atomic=False,
            )
        )

    check = _name(table, new_col, suffix="notnull")
    fk_checks = [(fk, _name(fk.table, f"{fk.column}_new", suffix="notnull")) for fk in fks]
    add_checks = [
        *locks,
        _runsql(
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(check)} CHECK ({q(new_col)} IS NOT NULL) NOT VALID",
            f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(check)}",
        ),
    ]
    validate = [_runsql(f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(check)}", None)]
    for fk, name in fk_checks:
        only = f"# only if {fk.table}.{fk.column} is NOT NULL:"
        add_checks += [
            only,
            _runsql(
                f"ALTER TABLE {q(fk.table)} ADD CONSTRAINT {q(name)} CHECK ({q(fk.column + '_new')} IS NOT NULL) NOT VALID",
                f"ALTER TABLE {q(fk.table)} DROP CONSTRAINT IF EXISTS {q(name)}",
            ),
        ]
        validate += [only, _runsql(f"ALTER TABLE {q(fk.table)} VALIDATE CONSTRAINT {q(name)}", None)]
    parts.append(
        migration(
            "release N, migration 4 (atomic): prove the new columns have no NULL, instantly", add_checks
        )
    )
    parts.append(
        migration(
            "release N, migration 5: validate (SHARE UPDATE EXCLUSIVE: reads and writes go on)", validate
        )
    )

    swap = [lock_all]
    swap += [drop for _, _, drop in triggers]
    for fk in fks:
        swap += [f"ALTER TABLE {q(fk.table)} DROP CONSTRAINT {q(name)}" for name in fk.constraints]
    swap += [
        f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(pk_name)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(column)} TO {q(column + '_old')}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(new_col)} TO {q(column)}",
        f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(pk_name)} PRIMARY KEY USING INDEX {q(pk_index)}",
        f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(check)}",
        # identity (Django 4.1+ tables) or serial (older tables): free the old column
        f"ALTER TABLE {q(table)} ALTER COLUMN {q(column + '_old')} DROP IDENTITY IF EXISTS",
        f"ALTER TABLE {q(table)} ALTER COLUMN {q(column + '_old')} DROP DEFAULT",
        f"ALTER TABLE {q(table)} ALTER COLUMN {q(column + '_old')} DROP NOT NULL",
    ]
    auto = op.new_field is not None and "AutoField" in op.new_field.class_code
    if auto:
        swap += [
            f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} ADD GENERATED BY DEFAULT AS IDENTITY",
            f"SELECT setval(pg_get_serial_sequence({py(q(table))}, {py(column)}), "
            f"(SELECT max({q(column)}) FROM {q(table)}))",
        ]
    for fk in fks:
        swap += [
            f"ALTER TABLE {q(fk.table)} RENAME COLUMN {q(fk.column)} TO {q(fk.column + '_old')}",
            f"ALTER TABLE {q(fk.table)} RENAME COLUMN {q(fk.column + '_new')} TO {q(fk.column)}",
            f"ALTER TABLE {q(fk.table)} ALTER COLUMN {q(fk.column + '_old')} DROP NOT NULL",
        ]
        swap += [f"ALTER TABLE {q(fk.table)} ADD {d} NOT VALID" for d in fk.definitions]
    field = op.new_field.code if op.new_field else "models.BigAutoField(primary_key=True)"
    state = f"migrations.AlterField(model_name={_model(op)}, name={op.kwarg('name') or py(column)}, field={field})"
    database = [
        "migrations.RunSQL(",
        *(f"    {py(line + ('; ' if i < len(swap) - 1 else ''))}" for i, line in enumerate(swap)),
        "),",
    ]
    parts.append(
        migration(
            "release N, migration 6 (atomic): swap the columns in one short transaction",
            [
                LOCK_TIMEOUT_ATOMIC,
                "migrations.SeparateDatabaseAndState(",
                "    database_operations=[",
                *(f"        {line}" for chunk in database for line in chunk.splitlines()),
                "    ],",
                f"    state_operations=[{state}],",
                "),",
            ],
        )
    )
    validations = [
        _runsql(f"ALTER TABLE {q(fk.table)} VALIDATE CONSTRAINT {q(name)}", None)
        for fk in fks
        for name in (_conname(d) for d in fk.definitions)
        if name
    ]
    for n, (fk, name) in enumerate(fk_checks):
        parts.append(
            migration(
                f"release N, migration 6{chr(ord('b') + n)} (atomic), only if {fk.table}.{fk.column} is NOT NULL: "
                "the validated CHECK spares SET NOT NULL its scan",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    _runsql(
                        f"ALTER TABLE {q(fk.table)} ALTER COLUMN {q(fk.column)} SET NOT NULL; "
                        f"ALTER TABLE {q(fk.table)} DROP CONSTRAINT {q(name)}",
                        None,
                    ),
                ],
            )
        )
    if validations:
        parts.append(
            migration(
                "release N, migration 7: validate the foreign keys (no write lock on either table)",
                validations,
            )
        )
    drops = [
        _runsql(f"ALTER TABLE {q(t)} DROP COLUMN IF EXISTS {q(c + '_old')}", None)
        for t, c in [(table, column), *((fk.table, fk.column) for fk in fks)]
    ]
    parts.append(
        migration(
            "release N+1: drop the old columns once the swap has proven itself",
            [*locks, *drops],
            phase="post-deploy",
        )
    )
    steps = [
        f"Add a nullable {new_type} column next to {table}.{column}"
        + (
            f" and next to each referencing column ({', '.join(f'{f.table}.{f.column}' for f in fks)})"
            if fks
            else ""
        )
        + ", outside the Django models, with triggers that copy every write into it.",
        "Backfill the existing rows in batches in an atomic = False migration "
        "(one short transaction per batch).",
        "Build the unique index for the new key and the indexes of the new referencing columns with "
        "CREATE INDEX CONCURRENTLY, one per atomic = False migration. Recreate concurrently, on the "
        "new columns, every other index or unique constraint that contains the old ones: they "
        "disappear with the old columns.",
        "Prove the new columns NOT NULL with CHECKs added NOT VALID and validated in their own migration"
        + (
            "; ADD PRIMARY KEY and SET NOT NULL then skip their scan (PostgreSQL 12+)."
            if server_version >= 12
            else f"; PostgreSQL {server_version} still scans for NULLs at the swap: run it off-peak."
        ),
        f"Swap in one short transaction: rename the columns, attach the new primary key with "
        f"ADD CONSTRAINT ... PRIMARY KEY USING INDEX (check that {pk_name} is the current name of "
        "the primary key), move the identity/sequence, re-add the foreign keys NOT VALID, and "
        "record the new field type in Django's state only (SeparateDatabaseAndState).",
        "Validate the foreign keys in a later migration, then drop the old columns in the next release.",
    ]
    return Fix(
        f"Move {table}.{column} to {new_type} through a new column and a short swap (no table rewrite)",
        tuple(steps),
        "\n\n".join(parts),
    )


def _conname(definition: str) -> str | None:
    """The name in 'CONSTRAINT "name" FOREIGN KEY ...'."""
    words = definition.split()
    if len(words) > 1 and words[0].upper() == "CONSTRAINT":
        return words[1].strip('"')
    return None


# --- SM111 add-column-volatile-default ----------------------------------------------------------


def _nullable_code(field_code: str) -> str:
    """``models.X(...)`` with null=True added (for an output_field written as code)."""
    head, paren, rest = field_code.partition("(")
    if not paren:
        return field_code
    if rest.startswith(")"):
        return f"{head}(null=True{rest}"
    return f"{head}(null=True, {rest}"


def volatile_default(
    op: OperationFacts,
    table: str,
    column: str,
    column_type: str,
    default_sql: str,
    not_null: bool,
    server_version: int,
    django_version: tuple[int, int],
) -> Fix:
    """R4 for per-row values: nullable column, SET DEFAULT (new rows), batched backfill, NOT NULL."""
    field = op.new_field if op.kind == "AddField" else None
    title = "Add the column nullable, set the default for new rows only, backfill in batches"
    value = None
    if field is not None:
        if field.has_db_default and field.db_default_code:
            value = field.db_default_code
        elif field.default_code is not None:
            value = field.default_code + ("()" if field.default_callable else "")
    if field is not None and value is not None:
        name = op.kwarg("name") or py(field.name)
        model = _model(op)
        ops = [
            LOCK_TIMEOUT_ATOMIC,
            f"migrations.AddField(model_name={model}, name={name}, "
            f"field={field.with_kwargs(null='True', db_default=None, default=None)}),",
        ]
        steps = ["Add the field with null=True and no default: a catalogue change, no rewrite."]
        if field.has_db_default:
            ops.append(
                f"migrations.AlterField(model_name={model}, name={name}, field={field.with_kwargs(null='True')}),"
            )
            steps.append(
                f"In the same migration set db_default={value} with AlterField: SET DEFAULT applies "
                "to new rows only, so it is a catalogue change too."
            )
        parts = [
            migration(
                "migration 1 (atomic): nullable column, then the default for new rows (catalogue only)", ops
            ),
            _orm_backfill(op.app_label, op.model_name or "Model", field.name, value),
        ]
        steps.append("Backfill the existing rows in batches in an atomic = False migration.")
        if not field.null:
            tail = set_not_null(op, table, column, server_version, django_version)
            parts.append(tail.code)
            steps.append("Then make it NOT NULL without a long lock: " + " ".join(tail.steps[2:]))
        return Fix(title, tuple(steps), "\n\n".join(parts))
    first = migration(
        "migration 1 (atomic): nullable column, then the default for new rows (catalogue only)",
        [
            LOCK_TIMEOUT_ATOMIC,
            _runsql(
                f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} {column_type} NULL",
                f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}",
            ),
            _runsql(
                f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET DEFAULT {default_sql}",
                f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} DROP DEFAULT",
            ),
        ],
    )
    parts = [
        first,
        _sql_backfill(
            [Backfill(table, default_sql, column)], "migration 2 (atomic = False): backfill in batches"
        ),
    ]
    steps = [
        "Add the column without a DEFAULT (NULL for existing rows): a catalogue change.",
        f"Then SET DEFAULT {default_sql}: it only applies to rows inserted from now on.",
        "Backfill the existing rows in batches in an atomic = False migration.",
    ]
    if not_null:
        steps.append(
            "Then make it NOT NULL with CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in "
            "another migration, and SET NOT NULL (PostgreSQL 12+ skips the scan)."
        )
    return Fix(title, tuple(steps), "\n\n".join(parts))


def stored_generated(
    op: OperationFacts,
    table: str,
    column: str,
    column_type: str,
    expression_sql: str,
    trigger_sql: str,
    server_version: int,
) -> Fix:
    """A stored generated column without the rewrite: plain column + trigger + batched backfill."""
    field = op.new_field if op.kind == "AddField" else None
    create, drop = _sync_trigger(table, [(column, column)], expression=trigger_sql)
    output = dict(field.kwargs_code).get("output_field") if field is not None else None
    if field is not None and output:
        plain_field = _nullable_code(output)
        plain_field = plain_field.replace("(null=True", "(null=True, editable=False", 1)
        first_ops = [
            LOCK_TIMEOUT_ATOMIC,
            f"migrations.AddField(model_name={_model(op)}, name={op.kwarg('name') or py(column)}, field={plain_field}),",
            _runsql(create, drop),
        ]
        model_step = f"Declare it in the model as {plain_field} instead of the GeneratedField."
    else:
        first_ops = [
            LOCK_TIMEOUT_ATOMIC,
            _runsql(
                f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} {column_type} NULL",
                f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}",
            ),
            _runsql(create, drop),
        ]
        model_step = "Read the column as a normal column; never write it from the application."
    parts = [
        migration(
            "migration 1 (atomic): a plain nullable column, computed by a trigger on every write", first_ops
        ),
        _sql_backfill(
            [Backfill(table, expression_sql, column, guard=True)],
            "migration 2 (atomic = False): compute the existing rows in batches",
        ),
    ]
    steps = [
        "Add a plain nullable column of the output type instead of the GENERATED ... STORED column "
        "(a catalogue change), with a BEFORE INSERT OR UPDATE trigger computing it for every written row.",
        model_step,
        "Compute the existing rows in batches in an atomic = False migration.",
    ]
    if server_version >= 18:
        steps.append(
            "PostgreSQL 18+: a VIRTUAL generated column (GeneratedField(db_persist=False), where your "
            "Django version supports it on PostgreSQL) is computed on read and is added without a rewrite."
        )
    return Fix(
        "Replace the stored generated column by a trigger-filled column and a batched backfill",
        tuple(steps),
        "\n\n".join(parts),
    )


# --- SM112 add-primary-key --------------------------------------------------------------------


def primary_key_using_index(
    op: OperationFacts,
    table: str,
    columns: Sequence[str],
    constraint: str,
    nullable: Sequence[str] | None,
    server_version: int,
) -> Fix:
    """Unique index concurrently, columns NOT NULL (R5), ADD CONSTRAINT ... PRIMARY KEY USING INDEX."""
    index = constraint
    cols = ", ".join(q(c) for c in columns)
    parts = [
        migration(
            "migration 1 (atomic = False): the unique index, built without blocking writes",
            [
                rebuild_index(
                    f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(index)} ON {q(table)} ({cols})",
                    f"DROP INDEX CONCURRENTLY IF EXISTS {q(index)}",
                )
            ],
            atomic=False,
        )
    ]
    steps = [
        "Build the unique index with CREATE UNIQUE INDEX CONCURRENTLY in an atomic = False migration "
        "(deduplicate first: a duplicate makes the build fail and leaves an INVALID index to drop).",
    ]
    if nullable is None or nullable:
        which = ", ".join(nullable) if nullable else "the key columns"
        steps.append(
            f"Make {which} NOT NULL first{' if they are not yet' if nullable is None else ''} "
            "(CHECK ... IS NOT NULL NOT VALID, VALIDATE, SET NOT NULL): otherwise ADD PRIMARY KEY "
            "runs SET NOT NULL itself and scans the table under ACCESS EXCLUSIVE"
            + (
                " (PostgreSQL 12+ skips that scan thanks to the validated CHECK)."
                if server_version >= 12
                else "."
            )
        )
    state: list[str]
    if op.kind in ("AddField", "AlterField") and op.kwargs_code:
        state = [op_call(op)]
    else:
        state = []
    swap = [
        LOCK_TIMEOUT_ATOMIC,
        "migrations.SeparateDatabaseAndState(",
        "    database_operations=[migrations.RunSQL(",
        f"        {py(f'ALTER TABLE {q(table)} ADD CONSTRAINT {q(constraint)} PRIMARY KEY USING INDEX {q(index)}')},",
        f"        reverse_sql={py(f'ALTER TABLE {q(table)} DROP CONSTRAINT {q(constraint)}')},",
        "    )],",
        f"    state_operations=[{' '.join(state)}],",
        "),",
    ]
    parts.append(
        migration("migration 2 (atomic): attach the ready index as the primary key (catalogue only)", swap)
    )
    steps.append(
        "Attach the index with ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX: a brief "
        "ACCESS EXCLUSIVE, no scan when the columns are already NOT NULL"
        + ("; record the change in Django's state with SeparateDatabaseAndState." if state else ".")
    )
    return Fix("Build the primary key's index concurrently, then attach it", tuple(steps), "\n\n".join(parts))


def counter_column(
    op: OperationFacts,
    table: str,
    column: str,
    column_type: str,
    primary_key: bool,
    server_version: int,
) -> Fix:
    """A serial/identity column without the rewrite: nullable column, sequence default, batched
    numbering, NOT NULL through a validated CHECK, then the primary key USING INDEX."""
    sequence = _name(table, column, suffix="seq")
    serial = {"smallserial": "smallint", "serial2": "smallint", "serial": "integer", "serial4": "integer"}
    base_type = serial.get(column_type, "bigint" if column_type in ("bigserial", "serial8") else column_type)
    check = _name(table, column, suffix="notnull")
    parts = [
        migration(
            "migration 1 (atomic): nullable column with a sequence default (catalogue only)",
            [
                LOCK_TIMEOUT_ATOMIC,
                _runsql(
                    f"ALTER TABLE {q(table)} ADD COLUMN {q(column)} {base_type} NULL; "
                    f"CREATE SEQUENCE {q(sequence)} AS {base_type} OWNED BY {q(table)}.{q(column)}; "
                    f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET DEFAULT nextval({py(q(sequence))})",
                    f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}",
                ),
            ],
        ),
        _sql_backfill(
            [Backfill(table, f"nextval('{q(sequence)}')", column)],
            "migration 2 (atomic = False): number the existing rows in batches",
        ),
        migration(
            "migration 3 (atomic): CHECK (col IS NOT NULL) NOT VALID, instant",
            [
                LOCK_TIMEOUT_ATOMIC,
                _runsql(
                    f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(check)} CHECK ({q(column)} IS NOT NULL) NOT VALID",
                    f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(check)}",
                ),
            ],
        ),
        migration(
            "migration 4: validate it (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
            [_runsql(f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(check)}", None)],
        ),
    ]
    not_null = (
        f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET NOT NULL; "
        f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(check)}"
    )
    steps = [
        f"Add {column} as a nullable {base_type} without a default, create a sequence owned by it and "
        "SET DEFAULT nextval(...): catalogue changes only, and new rows get numbers at once.",
        "Number the existing rows in batches in an atomic = False migration.",
        "Prove NOT NULL with a CHECK added NOT VALID and validated in its own migration, then SET NOT NULL"
        + (
            " (PostgreSQL 12+ skips the scan thanks to the CHECK)."
            if server_version >= 12
            else f" (PostgreSQL {server_version} still scans: run that step off-peak)."
        ),
    ]
    state = op_call(op) if op.kind == "AddField" and op.kwargs_code else ""
    if primary_key:
        constraint = f"{bare(table)}_pkey"
        index = _name(table, column, suffix="pk")
        parts.append(
            migration(
                "migration 5 (atomic = False): the unique index, built concurrently",
                [
                    rebuild_index(
                        f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(index)} ON {q(table)} ({q(column)})",
                        f"DROP INDEX CONCURRENTLY IF EXISTS {q(index)}",
                    )
                ],
                atomic=False,
            )
        )
        # PRIMARY KEY implies NOT NULL; the validated CHECK spares the scan (measured on 15).
        last_sql = (
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(constraint)} PRIMARY KEY USING INDEX {q(index)}; "
            f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(check)}"
        )
        title = "migration 6 (atomic): the index becomes the primary key, NOT NULL without a scan"
        steps.append(
            "Build the unique index concurrently, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX "
            "(brief ACCESS EXCLUSIVE, no scan)."
        )
    else:
        last_sql = not_null
        title = "migration 5 (atomic): NOT NULL without a scan"
    parts.append(
        migration(
            title,
            [
                LOCK_TIMEOUT_ATOMIC,
                "migrations.SeparateDatabaseAndState(",
                f"    database_operations=[migrations.RunSQL({py(last_sql)}, migrations.RunSQL.noop)],",
                f"    state_operations=[{state}],",
                "),",
            ],
        )
    )
    if state:
        steps.append(
            "Record the field in Django's state only, in that last migration (SeparateDatabaseAndState)."
        )
    return Fix(
        "Add the counter column without a rewrite: sequence default, batched numbering",
        tuple(steps),
        "\n\n".join(parts),
    )


# --- SM114 vacuum-full / cluster ----------------------------------------------------------------


def vacuum_full(tables: Sequence[str], cluster: bool, server_version: int) -> Fix:
    """R13: no online rewrite inside a migration."""
    names = ", ".join(tables) if tables else "the tables"
    vacuum = [_runsql(f"VACUUM (ANALYZE) {q(t)}", None) for t in tables] or [
        'migrations.RunSQL("VACUUM (ANALYZE)", migrations.RunSQL.noop),'
    ]
    code = migration(
        "if the aim was to make room after a big delete: plain VACUUM, no rewrite, no blocking",
        vacuum,
        atomic=False,
    )
    steps = [
        "Remove the statement from the migration: a full-table rewrite has no online form inside a deploy.",
        "Plain VACUUM (without FULL) makes the dead space reusable under SHARE UPDATE EXCLUSIVE: reads and "
        "writes go on. It cannot run in a transaction block, hence atomic = False.",
        f"To really shrink or reorder {names}, run pg_repack (or pg_squeeze) outside the deploy: it "
        "rebuilds the table online and takes ACCESS EXCLUSIVE only for the final swap"
        + (", keeping the order of an index with --order-by." if cluster else "."),
    ]
    if server_version >= 19:
        steps.append("PostgreSQL 19+: REPACK (CONCURRENTLY) does the same rebuild without the long lock.")
    return Fix(
        "Do not rewrite the table in a migration: plain VACUUM now, pg_repack off-deploy", tuple(steps), code
    )


# --- SM116 statement-after-access-exclusive -------------------------------------------------------


def split_transaction(
    holder: OperationFacts,
    later: OperationFacts,
    holder_sql: str,
    later_sql: str,
    *,
    labels: tuple[str, str],
    autocommit: bool,
    data_change: bool,
) -> Fix:
    """Run the later statement in a transaction of its own (after the lock is released)."""
    if holder.position == later.position or later.kind == "RunSQL":
        second_ops = [_runsql(later_sql, None)]
    else:
        second_ops = [op_call(later) + "," if later.kwargs_code else f"# {later.describe}"]
    if holder.position == later.position or holder.kind == "RunSQL":
        first_ops = [_runsql(holder_sql, None)]
    else:
        first_ops = [op_call(holder) + "," if holder.kwargs_code else f"# {holder.describe}"]
    parts = [
        migration(
            "migration 1 (atomic): the statement that takes ACCESS EXCLUSIVE, alone",
            [LOCK_TIMEOUT_ATOMIC, *first_ops],
        ),
        migration(
            "migration 2: the later statement, once migration 1 has committed and released its lock",
            second_ops if autocommit else [LOCK_TIMEOUT_ATOMIC, *second_ops],
            atomic=not autocommit,
        ),
    ]
    steps = [
        f"Move {labels[1]} out of the transaction that runs {labels[0]}: the ACCESS EXCLUSIVE lock "
        "is released when that migration commits, before the later statement starts.",
    ]
    if data_change:
        steps.append(
            "Make the data change a migration of its own with atomic = False and batch it (one short "
            "transaction per batch), so no lock is held for the whole table."
        )
    elif autocommit:
        steps.append("Build the index with CREATE INDEX CONCURRENTLY in an atomic = False migration.")
    return Fix("Run the later statement in a transaction of its own", tuple(steps), "\n\n".join(parts))


# --- SM117 / SM118 timeouts -----------------------------------------------------------------------


def _timeout_migration(first: str, atomic: bool, connection_option: str) -> str:
    """The migration that sets a timeout first, and the connection-wide alternative."""
    code = migration(
        "first operation of the migration" + ("" if atomic else " (SET, not SET LOCAL: atomic = False)"),
        [first, "# ... the existing operations, unchanged"],
        atomic=atomic,
    )
    return code + (
        "\n\n# or once for the connection `migrate` runs with (a settings module for deploys):\n"
        f'DATABASES["default"]["OPTIONS"] = {{"options": "-c {connection_option}"}}'
    )


def lock_timeout(atomic: bool) -> Fix:
    """R11 for lock_timeout."""
    code = _timeout_migration(
        LOCK_TIMEOUT_ATOMIC if atomic else LOCK_TIMEOUT_SESSION, atomic, "lock_timeout=2s"
    )
    code += "\n# or on the database role used for migrations: ALTER ROLE migrator SET lock_timeout = '2s';"
    steps = [
        "Set a short lock_timeout before the first statement that locks an existing table: "
        + (
            "SET LOCAL in an atomic migration (it ends with the transaction)."
            if atomic
            else "session-level SET in an atomic = False migration, where SET LOCAL does nothing "
            "(every statement commits on its own)."
        ),
        "Or set it once for the connection used by `migrate` (OPTIONS) or on the migration role.",
        "Retry `migrate` when it fails with LockNotAvailable (SQLSTATE 55P03): an atomic migration rolls "
        "back completely, so running it again is safe.",
    ]
    return Fix("Bound the wait for the lock with lock_timeout", tuple(steps), code)


def statement_timeout(atomic: bool) -> Fix:
    """R11 for statement_timeout."""
    first = STATEMENT_TIMEOUT_ATOMIC if atomic else STATEMENT_TIMEOUT_SESSION
    code = _timeout_migration(first, atomic, "statement_timeout=1h")
    steps = [
        "Give the migration an explicit statement_timeout longer than its slowest expected statement: "
        + (
            "SET LOCAL in an atomic migration."
            if atomic
            else "session-level SET in an atomic = False migration."
        ),
        "Concurrent index builds on big tables may need more: raise it (or set 0) just for that migration.",
    ]
    return Fix("Bound how long one statement may run with statement_timeout", tuple(steps), code)


# --- SM119 partition-detach-attach ------------------------------------------------------------------


def detach_concurrently(parent: str, partition: str, server_version: int) -> Fix:
    if server_version < 14:
        steps = (
            f"PostgreSQL {server_version} has no DETACH PARTITION ... CONCURRENTLY: keep the statement "
            "alone in its migration, behind a short lock_timeout, and retry on LockNotAvailable.",
            "Upgrade to PostgreSQL 14+ to detach with SHARE UPDATE EXCLUSIVE only.",
        )
        code = migration(
            "a migration of its own, with a short lock_timeout",
            [LOCK_TIMEOUT_ATOMIC, _runsql(f"ALTER TABLE {q(parent)} DETACH PARTITION {q(partition)}", None)],
        )
        return Fix("Detach alone, behind a short lock_timeout", steps, code)
    code = migration(
        "a migration of its own: CONCURRENTLY cannot run in a transaction block",
        [
            LOCK_TIMEOUT_SESSION,
            _runsql(f"ALTER TABLE {q(parent)} DETACH PARTITION {q(partition)} CONCURRENTLY", None),
        ],
        atomic=False,
    )
    steps = (
        "Detach with DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) in an atomic = False migration: "
        "it takes SHARE UPDATE EXCLUSIVE, so reads and writes on the partitioned table go on.",
        "If it is interrupted, finish it with ALTER TABLE ... DETACH PARTITION ... FINALIZE.",
    )
    return Fix("Detach the partition concurrently", steps, code)


def attach_with_check(
    parent: str, partition: str, check_sql: str | None, key_known: bool, attach_sql: str
) -> Fix:
    """A validated CHECK implying the bound, so that ATTACH PARTITION skips its scan."""
    constraint = _name(partition, "bound", suffix="check")
    expression = check_sql or '"key" IS NOT NULL AND <the partition bound on "key">'
    parts = [
        migration(
            "migration 1 (atomic): a CHECK matching the partition bound, not validated yet (instant)",
            [
                LOCK_TIMEOUT_ATOMIC,
                _runsql(
                    f"ALTER TABLE {q(partition)} ADD CONSTRAINT {q(constraint)} CHECK ({expression}) NOT VALID",
                    f"ALTER TABLE {q(partition)} DROP CONSTRAINT IF EXISTS {q(constraint)}",
                ),
            ],
        ),
        migration(
            "migration 2: validate it (SHARE UPDATE EXCLUSIVE: reads and writes go on)",
            [_runsql(f"ALTER TABLE {q(partition)} VALIDATE CONSTRAINT {q(constraint)}", None)],
        ),
        migration(
            "migration 3 (atomic): attach without a scan, then drop the CHECK",
            [
                LOCK_TIMEOUT_ATOMIC,
                _runsql(attach_sql, f"ALTER TABLE {q(parent)} DETACH PARTITION {q(partition)}"),
                _runsql(f"ALTER TABLE {q(partition)} DROP CONSTRAINT {q(constraint)}", None),
            ],
        ),
    ]
    steps = [
        f"Add to {partition} a CHECK that implies the partition bound, including IS NOT NULL on the "
        "partition key (without it PostgreSQL still scans), as NOT VALID."
        + ("" if check_sql and key_known else ' Write "key" as your partition key column.'),
        "Validate it in a separate migration: the scan runs under SHARE UPDATE EXCLUSIVE.",
        "ATTACH PARTITION then trusts the CHECK and skips its scan; drop the CHECK afterwards.",
    ]
    return Fix(
        "Prove the bound with a validated CHECK before ATTACH PARTITION", tuple(steps), "\n\n".join(parts)
    )


def field_code(field: FieldFacts | None) -> str:
    return field.code if field is not None else "models.Field(...)"
