"""Recipes for index and constraint hazards (RULES.md R6, R7, R8, R13), filled in with the user's names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..facts import OperationFacts
from ..findings import Fix
from .recipes import LOCK_TIMEOUT_ATOMIC, migration, op_call, py, q, rebuild_index

PG_OPS = "django.contrib.postgres.operations"


def _model(op: OperationFacts) -> str:
    return op.kwarg("model_name") or py(op.model_name or op.sql_model or "model")


def _undo_add_column(sql: str) -> str | None:
    """``ALTER TABLE t DROP COLUMN c`` for a lone ``ALTER TABLE t ADD COLUMN c ...``."""
    from pglast import ast, enums, parse_sql

    try:
        [raw] = parse_sql(sql)
    except Exception:  # noqa: BLE001 - not one parsable statement: no reverse guessed
        return None
    node: Any = raw.stmt
    cmds = list(getattr(node, "cmds", None) or ())
    if not isinstance(node, ast.AlterTableStmt) or len(cmds) != 1 or node.relation is None:
        return None
    cmd = cmds[0]
    if cmd.subtype != enums.AlterTableType.AT_AddColumn or not isinstance(cmd.def_, ast.ColumnDef):
        return None
    table = ".".join(q(str(p)) for p in (node.relation.schemaname, node.relation.relname) if p)
    return f"ALTER TABLE {table} DROP COLUMN {q(str(cmd.def_.colname))}"


def _index_name(sql: str, kind: str) -> str | None:
    """The index a lone CREATE INDEX (kind "create") or DROP INDEX (kind "drop") names."""
    from pglast import ast, enums, parse_sql

    try:
        [raw] = parse_sql(sql)
    except Exception:  # noqa: BLE001 - not one parsable statement
        return None
    node: Any = raw.stmt
    if kind == "create" and isinstance(node, ast.IndexStmt):
        return str(node.idxname) if node.idxname else None
    if kind == "drop" and isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_INDEX:
        objects = list(node.objects or ())
        if len(objects) == 1:
            return str(getattr(list(objects[0])[-1], "sval", "")) or None
    return None


def _rebuilt_indexes_kept(
    indexes: Sequence[tuple[str, str]], others: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Leave alone the indexes Django drops and recreates under the same name (the
    ``_like`` index of a column that becomes unique), and move the other DROP INDEX
    statements out of the locking transaction: they are dropped CONCURRENTLY last."""
    created = {_index_name(create, "create") for create, _ in indexes}
    dropped = {_index_name(sql, "drop") for sql in others} - {None}
    rebuilt = created & dropped
    kept_indexes = [pair for pair in indexes if _index_name(pair[0], "create") not in rebuilt]
    kept_others = [sql for sql in others if _index_name(sql, "drop") is None]
    drops = [name for sql in others if (name := _index_name(sql, "drop")) and name not in rebuilt]
    return kept_indexes, kept_others, drops


def run_sql(sql: str, reverse: str | None = None, *, noop: bool = False) -> str:
    """One RunSQL line; ``noop`` for statements that have nothing to undo. A lone ADD COLUMN
    gets its DROP COLUMN as reverse_sql."""
    if reverse is None and not noop:
        reverse = _undo_add_column(sql)
    if reverse is not None:
        return f"migrations.RunSQL({py(sql)}, reverse_sql={py(reverse)}),"
    if noop:
        return f"migrations.RunSQL({py(sql)}, migrations.RunSQL.noop),"
    return f"migrations.RunSQL({py(sql)}),"


def run_sql_list(sqls: Sequence[str], reverse: str | None = None) -> str:
    """RunSQL with a list: Django executes each item on its own (no implicit transaction)."""
    items = "".join(f"    {py(s)},\n" for s in sqls)
    tail = f", reverse_sql={reverse}" if reverse else ""
    return f"migrations.RunSQL([\n{items}]{tail}),"


def separate(database: Sequence[str], state: Sequence[str]) -> list[str]:
    """SeparateDatabaseAndState with one line per operation."""
    return [
        "migrations.SeparateDatabaseAndState(",
        "    database_operations=[",
        *(f"        {line}" for line in database),
        "    ],",
        "    state_operations=[",
        *(f"        {line.rstrip(',')}," for line in state),
        "    ],",
        "),",
    ]


def _state_line(op: OperationFacts) -> str:
    return op_call(op) + ","


def _call(op: OperationFacts) -> tuple[str, tuple[str, ...]]:
    """The operation as code, and the import it needs (contrib.postgres operations)."""
    line = op_call(op) if op.kwargs_code else f"migrations.{op.kind}(...)"
    if op.path.startswith(PG_OPS + "."):
        return line.replace(f"{PG_OPS}.", "", 1) + ",", (f"from {PG_OPS} import {op.kind}",)
    return line + ",", ()


def _alter_field(op: OperationFacts, field_code: str) -> str:
    return f"migrations.AlterField(model_name={_model(op)}, name={op.kwarg('name')}, field={field_code}),"


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


# -- SM102 ------------------------------------------------------------------------------


def drop_index_concurrently(op: OperationFacts, statements: Sequence[tuple[str, bool]]) -> Fix:
    """R8 (removal): DROP INDEX CONCURRENTLY in an atomic = False migration.

    ``statements``: the operation's SQL in order, as (sql, is a rewritten concurrent drop).
    """
    title = "Drop the index with DROP INDEX CONCURRENTLY in its own atomic = False migration"
    steps = [
        "Move the removal into a new migration with `atomic = False`: CONCURRENTLY cannot run inside "
        "a transaction.",
        "DROP INDEX CONCURRENTLY waits for the transactions that use the index instead of locking "
        "the table: reads and writes go on. It takes one index per statement and no CASCADE.",
    ]
    if op.kind == "RemoveIndex" and op.kwarg("name"):
        code = migration(
            "a migration of its own",
            [f"RemoveIndexConcurrently(model_name={_model(op)}, name={op.kwarg('name')}),"],
            atomic=False,
            imports=(f"from {PG_OPS} import RemoveIndexConcurrently",),
        )
        steps.insert(
            1, "Replace RemoveIndex with django.contrib.postgres.operations.RemoveIndexConcurrently."
        )
    elif op.kind == "RunSQL":
        code = migration(
            "a migration of its own",
            [run_sql_list([sql for sql, _ in statements], op.kwarg("reverse_sql"))],
            atomic=False,
        )
    else:
        database = [run_sql(sql, noop=drop) for sql, drop in statements]
        code = migration(
            "a migration of its own: the database drops concurrently, Django's state as before",
            separate(database, [_state_line(op)]),
            atomic=False,
        )
        steps.insert(
            1,
            f"Run the {op.kind} through SeparateDatabaseAndState: the database side drops each index "
            "with DROP INDEX CONCURRENTLY IF EXISTS, the state side is unchanged.",
        )
    return Fix(title, tuple(steps), code)


# -- SM103 ------------------------------------------------------------------------------


def concurrently_outside_transaction(
    op: OperationFacts,
    reason: str,
    statements: Sequence[str],
    concurrent: Sequence[str],
    wrapper: OperationFacts | None = None,
) -> Fix:
    """A concurrent statement in an atomic = False migration, sent on its own.

    ``wrapper``: the SeparateDatabaseAndState whose database side holds ``op``; it moves whole.
    """
    reverse = op.kwarg("reverse_sql")
    if reason == "batch":
        title = "Send each statement on its own: RunSQL with a list of statements"
        code = migration(
            "the same atomic = False migration, one statement per list item",
            [run_sql_list(statements, reverse)],
            atomic=False,
        )
        steps = (
            "A string holding several statements reaches PostgreSQL in one call and runs as one "
            "implicit transaction. Pass RunSQL a list instead: Django executes each item on its own, "
            "in autocommit.",
            "Better still, give each concurrent statement a migration of its own: a failure then "
            "leaves nothing half applied.",
            "A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: drop it before retrying "
            "(IF NOT EXISTS would otherwise skip the broken index).",
        )
        return Fix(title, steps, code)
    title = "Move the concurrent operation into a migration with atomic = False"
    imports: tuple[str, ...] = ()
    if wrapper is not None:
        line, imports = _call(wrapper)
        ops = [line]
    elif op.kind == "RunSQL":
        ops = [run_sql_list(statements, reverse) if len(statements) > 1 else run_sql(statements[0])]
        if len(statements) == 1 and reverse:
            ops = [f"migrations.RunSQL({py(statements[0])}, reverse_sql={reverse}),"]
    else:
        line, imports = _call(op)
        ops = [line]
    code = migration(
        "a new migration holding only the concurrent operation", ops, atomic=False, imports=imports
    )
    steps = (
        "Create a new migration with `atomic = False` holding only "
        + (
            "the SeparateDatabaseAndState"
            if wrapper is not None
            else "this RunSQL"
            if op.kind == "RunSQL"
            else f"the {op.kind}"
        )
        + "; keep the other operations in the atomic migration.",
        "Use explicit index names and IF NOT EXISTS / IF EXISTS so that a retry after a failure "
        "does not stop on the object the first attempt left behind.",
        "A failed concurrent build leaves an INVALID index: drop it (DROP INDEX CONCURRENTLY) "
        "before running the migration again.",
        *(
            (
                "With several concurrent statements, one migration each (or a RunSQL list): a failure "
                "then leaves nothing half applied.",
            )
            if len(concurrent) > 1
            else ()
        ),
    )
    return Fix(title, steps, code)


# -- SM104 ------------------------------------------------------------------------------


def unique_using_index(
    op: OperationFacts,
    table: str,
    uniques: Sequence[tuple[str, str, str, str]],
    indexes: Sequence[tuple[str, str]],
    others: Sequence[str],
    add_column: str | None = None,
    *,
    same_default: bool = False,
) -> Fix:
    """R7: CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX.

    ``uniques``: (constraint name, CREATE UNIQUE INDEX CONCURRENTLY, its DROP, ADD ... USING INDEX).
    ``indexes``: other indexes of the operation, as (CREATE INDEX CONCURRENTLY, DROP).
    ``others``: the operation's remaining statements, kept as they are.
    ``add_column``: the ADD COLUMN statement without its UNIQUE, for a new column.
    """
    indexes, others, drops = _rebuilt_indexes_kept(indexes, others)
    build = [rebuild_index(create, drop) for _, create, drop, _ in uniques]
    build += [rebuild_index(create, drop) for create, drop in indexes]
    attach = [
        run_sql(sql, f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}") for name, _, _, sql in uniques
    ]
    field = op.new_field
    parts: list[str] = []
    if op.kind == "AddField" and field is not None and "unique" in dict(field.kwargs_code):
        parts.append(
            migration(
                "migration 1 (atomic): the column without unique=True (a brief catalogue change)",
                [LOCK_TIMEOUT_ATOMIC, op_call(op, field=field.with_kwargs(unique=None)) + ","],
            )
        )
        final = separate(attach, [_alter_field(op, field.code)])
    elif add_column is not None:
        first = [run_sql(add_column)] + [run_sql(s) for s in others]
        parts.append(
            migration(
                "migration 1 (atomic): the column without UNIQUE (a brief catalogue change)",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    *(separate(first, [_state_line(op)]) if op.kind != "RunSQL" else first),
                ],
            )
        )
        final = attach
    elif op.kind == "RunSQL":
        final = [run_sql(s) for s in others] + attach
    else:
        final = separate(attach + [run_sql(s) for s in others], [_state_line(op)])
    n = len(parts)
    parts.append(
        migration(
            f"migration {n + 1} (atomic = False): build the unique index without blocking writes",
            build,
            atomic=False,
        )
    )
    parts.append(
        migration(
            f"migration {n + 2} (atomic): attach the ready index as the constraint (no scan)",
            [LOCK_TIMEOUT_ATOMIC, *final],
        )
    )
    if drops:
        parts.append(
            migration(
                f"migration {n + 3} (atomic = False): drop the indexes the unique one replaces",
                [run_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}", noop=True) for name in drops],
                atomic=False,
            )
        )
    new_column = add_column is not None or op.kind == "AddField"
    steps = [
        "Make sure nothing writes duplicate values into the new column: the index rejects them from "
        "the moment it accepts writes."
        if new_column
        else "Remove existing duplicates first, and deploy code that does not create new ones: the "
        "index rejects duplicates from the moment it accepts writes.",
        "Build the unique index with CREATE UNIQUE INDEX CONCURRENTLY in an atomic = False "
        "migration: SHARE UPDATE EXCLUSIVE, reads and writes go on during the build.",
        "If the build fails (a duplicate, a lock timeout) it leaves an INVALID index: the RunSQL "
        "drops the name before it builds, so running the migration again rebuilds it.",
        "Attach it with ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX: ACCESS EXCLUSIVE "
        "for milliseconds, no scan"
        + ("" if op.kind == "RunSQL" else "; SeparateDatabaseAndState keeps Django's state in step")
        + ".",
    ]
    if new_column:
        steps.insert(0, "Add the column without UNIQUE first: a brief catalogue change.")
    if same_default:
        steps.insert(
            1,
            "Every existing row would get the same default, which a unique index rejects: add the "
            "column nullable (or without the default), backfill distinct values in batches, then "
            "build the index.",
        )
    return Fix(
        "Build the unique index concurrently, then attach it as the constraint", tuple(steps), _join(*parts)
    )


# -- SM105 ------------------------------------------------------------------------------


def foreign_key_not_valid(
    op: OperationFacts,
    table: str,
    parent: str,
    name: str,
    not_valid: str,
    indexes: Sequence[tuple[str, str]],
    others: Sequence[str],
    add_column: str | None = None,
) -> Fix:
    """R6: column without constraint, index concurrently, FK NOT VALID, VALIDATE later."""
    drop = f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}"
    validate = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"
    field = op.new_field
    parts: list[str] = []
    steps: list[str] = []
    if op.kind == "AddField" and field is not None:
        no_index = {"db_index": "False"} if indexes else {}
        parts.append(
            migration(
                "migration 1 (atomic): the column, without constraint or index (a catalogue change)",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    op_call(op, field=field.with_kwargs(db_constraint="False", **no_index)) + ",",
                ],
            )
        )
        steps.append(
            "Add the column with db_constraint=False"
            + (" and db_index=False" if indexes else "")
            + f": a catalogue change on {table}, no lock on {parent}"
            + (", no index build." if indexes else ".")
        )
        if indexes:
            parts.append(
                migration(
                    "migration 2 (atomic = False): the index, built concurrently",
                    separate(
                        [rebuild_index(c, d) for c, d in indexes],
                        [_alter_field(op, field.with_kwargs(db_constraint="False"))],
                    ),
                    atomic=False,
                )
            )
        constraint = separate([run_sql(not_valid, drop)], [_alter_field(op, field.code)])
    else:
        if indexes:
            parts.append(
                migration(
                    "migration 1 (atomic = False): the index on the referencing column, built concurrently",
                    [rebuild_index(c, d) for c, d in indexes],
                    atomic=False,
                )
            )
        database = ([run_sql(add_column)] if add_column else []) + [run_sql(s) for s in others]
        database.append(run_sql(not_valid, drop))
        constraint = database if op.kind == "RunSQL" else separate(database, [_state_line(op)])
    if indexes:
        steps.append(
            f"Build the index on {table} with CREATE INDEX CONCURRENTLY in an atomic = False migration: "
            "writes go on during the build."
        )
    parts.append(
        migration(
            f"migration {len(parts) + 1} (atomic): the foreign key, NOT VALID (no scan)",
            [LOCK_TIMEOUT_ATOMIC, *constraint],
        )
    )
    parts.append(
        migration(
            f"migration {len(parts) + 1}: validate it in its own transaction",
            [run_sql(validate, noop=True)],
        )
    )
    steps += [
        f"Add the constraint NOT VALID: SHARE ROW EXCLUSIVE on {table} and {parent} for milliseconds, "
        "no scan; new and updated rows are checked from then on"
        + ("." if op.kind == "RunSQL" else "; SeparateDatabaseAndState records it in Django's state."),
        f"VALIDATE CONSTRAINT in a later migration: it reads {table} under SHARE UPDATE EXCLUSIVE and "
        f"takes only ROW SHARE on {parent}, so reads and writes on both go on.",
    ]
    return Fix("Add the foreign key NOT VALID, then validate it separately", tuple(steps), _join(*parts))


# -- SM106 ------------------------------------------------------------------------------


def check_not_valid(
    op: OperationFacts,
    table: str,
    name: str,
    not_valid: str,
    others: Sequence[str],
    add_column: str | None = None,
) -> Fix:
    """AddConstraintNotValid (or the RunSQL form), then ValidateConstraint in the next migration."""
    validate = f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"
    if op.kind == "AddConstraint" and op.kwarg("constraint"):
        first = migration(
            "migration 1 (atomic): the CHECK, not yet validated (no scan)",
            [
                LOCK_TIMEOUT_ATOMIC,
                f"AddConstraintNotValid(model_name={_model(op)}, constraint={op.kwarg('constraint')}),",
            ],
            imports=(f"from {PG_OPS} import AddConstraintNotValid",),
        )
        second = migration(
            "migration 2: validate it in its own transaction",
            [f"ValidateConstraint(model_name={_model(op)}, name={py(name)}),"],
            imports=(f"from {PG_OPS} import ValidateConstraint",),
        )
    else:
        database = ([run_sql(add_column)] if add_column else []) + [run_sql(s) for s in others]
        database.append(run_sql(not_valid, f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}"))
        body = database if op.kind == "RunSQL" else separate(database, [_state_line(op)])
        first = migration(
            "migration 1 (atomic): the CHECK, not yet validated (no scan)", [LOCK_TIMEOUT_ATOMIC, *body]
        )
        second = migration("migration 2: validate it in its own transaction", [run_sql(validate, noop=True)])
    steps = (
        "Deploy code that respects the condition first: from the moment the constraint exists, even "
        "NOT VALID, every inserted or updated row is checked.",
        "Add the CHECK as NOT VALID: ACCESS EXCLUSIVE for milliseconds, no scan"
        + (
            ""
            if op.kind in ("RunSQL", "AddConstraint")
            else " (SeparateDatabaseAndState keeps the operation's state)"
        )
        + ".",
        "Fix the rows that violate it, then validate in a separate migration: the scan runs under "
        "SHARE UPDATE EXCLUSIVE, reads and writes go on.",
    )
    return Fix(
        "Add the CHECK as NOT VALID, then validate it in the next migration", steps, _join(first, second)
    )


# -- SM107 ------------------------------------------------------------------------------


def validate_later(
    add_op: OperationFacts,
    validate_op: OperationFacts,
    table: str,
    name: str,
    add_sql: str,
    validate_sql: str,
) -> Fix:
    if add_op.kind == "RunSQL":
        add = run_sql(add_sql, f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
        add_imports: tuple[str, ...] = ()
    else:
        add, add_imports = _call(add_op)
    if validate_op.kind == "RunSQL":
        validate = run_sql(validate_sql, noop=True)
        validate_imports: tuple[str, ...] = ()
    else:
        validate, validate_imports = _call(validate_op)
    code = _join(
        migration("this migration, without the validation", [LOCK_TIMEOUT_ATOMIC, add], imports=add_imports),
        migration(
            "the next migration: validation in its own transaction", [validate], imports=validate_imports
        ),
    )
    steps = (
        f"Keep ADD CONSTRAINT {name} ... NOT VALID where it is: it is instant.",
        "Move the validation to the next migration. Alone in its transaction VALIDATE CONSTRAINT holds "
        f"only SHARE UPDATE EXCLUSIVE on {table} while it scans: reads and writes go on.",
    )
    return Fix("Validate the constraint in a separate migration", steps, code)


# -- SM113 ------------------------------------------------------------------------------


def exclusion_maintenance(op: OperationFacts, table: str, name: str) -> Fix:
    """R13: no online path; a reviewed, acknowledged maintenance step."""
    body = migration(
        "its own migration, run in a maintenance window",
        [LOCK_TIMEOUT_ATOMIC, op_call(op) + "," if op.kwargs_code else f"migrations.{op.kind}(...),"],
    )
    body = body.replace(
        "class Migration(migrations.Migration):\n",
        "class Migration(migrations.Migration):\n"
        f'    safe_migrations_ignore = {{"SM113": "maintenance window: {table} is locked while {name} is built"}}\n',
    )
    steps = (
        "PostgreSQL has no online way to add an exclusion constraint: no NOT VALID, no USING INDEX.",
        "Best: declare it when the table is created (CreateModel with Meta.constraints), or on a new "
        "table that the data is copied into.",
        "Otherwise run it alone, in a maintenance window, with a lock_timeout, and acknowledge the "
        "finding in the migration (safe_migrations_ignore) once the outage is agreed.",
        "Until then, enforce the rule in the application or with a trigger on the table.",
    )
    return Fix("No online path: add it with the table, or in a planned maintenance window", steps, body)


# -- SM115 ------------------------------------------------------------------------------


def reindex_concurrently(
    op: OperationFacts, target: str, kind: str, concurrent_sql: str | None, server_version: int
) -> Fix:
    if concurrent_sql is None:  # REINDEX SYSTEM: no concurrent form at all
        return Fix(
            "Run REINDEX SYSTEM outside migrations, in a maintenance window",
            (
                "REINDEX SYSTEM has no CONCURRENTLY form: take it out of the migrations and run it "
                "in a maintenance window.",
            ),
            "",
        )
    if server_version >= 12:
        code = migration(
            "a migration of its own (CONCURRENTLY cannot run in a transaction)",
            [run_sql(concurrent_sql, noop=True)],
            atomic=False,
        )
        concurrent_steps = [
            "Use REINDEX ... CONCURRENTLY (PostgreSQL 12+) in a migration with `atomic = False`: it "
            "builds new copies and swaps them under SHARE UPDATE EXCLUSIVE, reads and writes go on.",
            "A failed run leaves INVALID indexes named *_ccnew: drop them before retrying.",
        ]
        if server_version == 14:
            concurrent_steps.append(
                "On PostgreSQL 14, run 14.4 or later: concurrent builds on 14.0-14.3 could silently "
                "corrupt indexes."
            )
        return Fix("Rebuild concurrently with REINDEX ... CONCURRENTLY", tuple(concurrent_steps), code)
    index = target if kind == "index" else "<index>"
    new = f"{index}_new"[:63]
    code = migration(
        f"PostgreSQL {server_version}: rebuild by hand, for each index",
        [
            run_sql(f"CREATE INDEX CONCURRENTLY {q(new)} ON <table> (<the definition of {q(index)}>)"),
            run_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {q(index)}"),
            run_sql(f"ALTER INDEX {q(new)} RENAME TO {q(index)}"),
        ],
        atomic=False,
    )
    manual_steps = (
        f"PostgreSQL {server_version} has no REINDEX CONCURRENTLY (it came in 12).",
        "Build a copy of the index with CREATE INDEX CONCURRENTLY (same definition, new name), drop the "
        "old one with DROP INDEX CONCURRENTLY, then rename the copy: writes go on, the rename is brief.",
        "Indexes behind a primary key or unique constraint cannot be swapped like this: upgrade to "
        "PostgreSQL 12+ or plan a maintenance window for them.",
    )
    return Fix(
        f"Rebuild without REINDEX on PostgreSQL {server_version}: build a copy concurrently, swap",
        manual_steps,
        code,
    )


# -- SM120 ------------------------------------------------------------------------------


def drop_constraint_later(op: OperationFacts, table: str, name: str, kind: str, parent: str | None) -> Fix:
    code = migration(
        "release N+1, a migration of its own",
        [LOCK_TIMEOUT_ATOMIC, op_call(op) + ","],
        phase="post-deploy",
    )
    relied = {
        "foreign key": "rows pointing nowhere",
        "unique": "duplicates",
        "check": "rows that break the condition",
    }.get(kind, "rows the constraint used to reject")
    steps = [
        f"Release N: deploy code that no longer relies on {name} and copes with {relied}.",
        "Release N+1: drop it in a migration of its own that sets a short lock_timeout first, so the "
        "drop gives up instead of queueing every query behind it; retry on LockNotAvailable.",
    ]
    if kind == "foreign key":
        steps.append(
            f"Dropping a foreign key locks {table} and {parent or 'the referenced table'} in ACCESS "
            "EXCLUSIVE mode: run it when traffic is low."
        )
    return Fix(
        "Drop the constraint after the code stops relying on it, with a lock_timeout", tuple(steps), code
    )
