"""SM120 drop-constraint."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import constraints as recipes
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds
from ._constraints import added_constraints, created_before, same_transaction
from .base import Hit, Rule

# Operations whose own rules report the whole change (drop-column, drop-table):
# the constraint goes with the column or table.
_REPORTED_ELSEWHERE = ("RemoveField", "DeleteModel")

_LABEL = {"unique": "unique constraint", "check": "CHECK constraint"}

_LOST = {
    "foreign key": "rows that point nowhere can be written while the running code may still count on "
    "the reference",
    "unique": "duplicates can be written while the running code may still count on uniqueness",
    "check": "rows the CHECK used to reject can be written while the running code may still assume "
    "the condition",
    "primary key": "duplicate keys can be written while the running code may still count on them",
    "constraint": "what it guaranteed stops holding while the running code may still rely on it",
}


class DropConstraint(Rule):
    """A constraint dropped while the running code may rely on it; a foreign key locks both tables.

    ## What it does
    Flags `ALTER TABLE ... DROP CONSTRAINT` on a constraint that existed before
    the migration. Django emits it for `RemoveConstraint`, `AlterField` with
    `db_constraint=False` or from `unique=True` to `unique=False`, a changed
    foreign key target, and `AlterUniqueTogether` removing a set.
    Not flagged:
    - constraints created earlier in the same migration, and constraints dropped
      by `RemoveField`/`DeleteModel` (drop-column and drop-table report those);
    - swaps: the same constraint, a new primary key, or a new foreign key to the
      same table, added back later in the same transaction;
    - the last steps of the catalogue's recipes: a `CHECK (col IS NOT NULL)`
      dropped after `SET NOT NULL` (or after a primary key was attached) in the
      same migration, and a partition-bound CHECK dropped after `ATTACH
      PARTITION` of its table;
    - a drop in a migration marked `safe_migrations_phase = "post-deploy"` that
      sets a `lock_timeout` first.

    ## Why is this bad?
    The drop is a catalogue change, but it needs ACCESS EXCLUSIVE on the table,
    and for a foreign key on the referenced table too (measured): while the
    request waits for running transactions, every query on those tables queues
    behind it. The guarantee is gone at once while the old code still runs:
    duplicates, orphan rows or values the CHECK used to reject can be written,
    and code that relied on them (a `get()` that expected one row, an
    `IntegrityError` it caught) changes behaviour.

    ## Example
    ```python
    migrations.AlterField(
        "order", "customer",
        models.ForeignKey("shop.customer", models.CASCADE, db_constraint=False),
    ),
    ```

    ## Use instead
    ```python
    # release N deploys code that no longer relies on the constraint;
    # release N+1, after every old pod is gone, a migration of its own:
    class Migration(migrations.Migration):
        safe_migrations_phase = "post-deploy"
        operations = [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.AlterField(
                "order", "customer",
                models.ForeignKey("shop.customer", models.CASCADE, db_constraint=False),
            ),
        ]
    ```
    With the lock_timeout the drop gives up instead of stalling the tables, and
    the deploy can retry it.
    """

    code = "SM120"
    name = "drop-constraint"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        op = stmt.operation
        if op.kind in _REPORTED_ELSEWHERE:
            return
        for table, cmd in alter_cmds(stmt.node, AT.AT_DropConstraint):
            name = str(cmd.name)
            if ctx.is_new_table(table, stmt) or created_before(ctx, stmt, table, name):
                continue
            kind, parent = _kind(ctx, stmt, name)
            if _replaced(ctx, stmt, table, name, kind, parent):
                continue  # a swap, not a loss: Django's FK around a type change, a primary key swap
            if kind in ("check", "constraint") and _not_null_kept(ctx, stmt, table, name, kind):
                continue
            if kind in ("check", "constraint") and _attached_before(ctx, stmt, table):
                continue  # the partition bound now guarantees what the CHECK proved (ATTACH recipe)
            timeout = ctx.lock_timeout_set(stmt)
            post_deploy = (ctx.migration.phase_marker or "").strip().lower() == "post-deploy"
            if timeout and post_deploy:
                continue  # the old code is gone and the lock wait is bounded: the recipe's own step
            tables = (
                f"{table} and on {parent or 'the table it references'}" if kind == "foreign key" else table
            )
            message = f"Dropping {_LABEL.get(kind, kind)} {name}"
            if not timeout:
                message += (
                    f" takes ACCESS EXCLUSIVE on {tables} with no lock_timeout: while it waits for running "
                    f"transactions every query on {'both tables' if kind == 'foreign key' else table} "
                    "queues behind it"
                )
            if not post_deploy:
                message += (", and " if not timeout else ": ") + _LOST.get(kind, _LOST["constraint"])
            message += "."
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.drop_constraint_later(op, table, name, kind, parent),
            )


def _kind(ctx: MigrationContext, stmt: Statement, name: str) -> tuple[str, str | None]:
    """What the dropped constraint is, from Django's operation (and its naming as a last resort)."""
    op = stmt.operation
    old, new = op.old_field, op.new_field
    sets_immediate = any(
        isinstance(s.node, ast.ConstraintsSetStmt)
        and any(getattr(c, "relname", None) == name for c in s.node.constraints or ())
        for s in ctx.statements_of(op)
        if s.index < stmt.index
    )
    if sets_immediate or (old is not None and old.is_relation and old.db_constraint and "_fk_" in name):
        # Django's sql_delete_fk: SET CONSTRAINTS <fk> IMMEDIATE; ALTER TABLE ... DROP CONSTRAINT
        return "foreign key", old.related_table if old is not None and old.is_relation else None
    if op.kind == "AlterUniqueTogether" or (
        old is not None and old.unique and not old.primary_key and not (new is not None and new.unique)
    ):
        return "unique", None
    if old is not None and old.primary_key and not (new is not None and new.primary_key):
        return "primary key", None
    model = op.model_before
    if model is not None and any(n == name for n, _ in model.not_null_checks):
        return "check", None
    # Hand-written SQL or RemoveConstraint: the state keeps no constraint kinds, so fall
    # back to the suffixes Django and PostgreSQL give their constraint names.
    for suffix, kind in (
        ("_pkey", "primary key"),
        ("_uniq", "unique"),
        ("_key", "unique"),
        ("_check", "check"),
    ):
        if name.endswith(suffix):
            return kind, None
    if "_fk_" in name or name.endswith("_fkey"):
        return "foreign key", None
    return "constraint", None


def _not_null_kept(ctx: MigrationContext, stmt: Statement, table: str, name: str, kind: str) -> bool:
    """The NOT NULL proof of the set-not-null recipe, dropped once the column is NOT NULL.

    Known from Django's state: a CHECK (col IS NOT NULL) whose column was SET NOT NULL earlier
    in the migration. For hand-written SQL the state knows no constraints: a constraint of
    unknown kind dropped in the transaction that made columns of its table NOT NULL (SET NOT
    NULL, or a primary key attached) is taken for that proof.
    """
    model = stmt.operation.model_before
    columns = [col for n, col in (model.not_null_checks if model else ()) if n == name]
    unknown = kind == "constraint" and not columns
    for earlier in ctx.statements[: stmt.index]:
        for t, cmd in alter_cmds(earlier.node, AT.AT_SetNotNull):
            if t == table and (cmd.name in columns or (unknown and same_transaction(ctx, earlier, stmt))):
                return True
        if unknown and same_transaction(ctx, earlier, stmt):
            if any(
                t == table and con.contype == CON.CONSTR_PRIMARY
                for t, _, con, _ in added_constraints(earlier.node)
            ):
                return True
    return False


def _replaced(
    ctx: MigrationContext, stmt: Statement, table: str, name: str, kind: str, parent: str | None
) -> bool:
    """Is the constraint added back on ``table`` later in the same transaction?

    The same name, or for a primary key any new primary key, for a foreign key a new
    foreign key to the same table (any, when the dropped one's target is unknown).
    """
    for later in ctx.statements[stmt.index + 1 :]:
        if not same_transaction(ctx, stmt, later):
            continue
        for t, _, con, _ in added_constraints(later.node):
            if t != table:
                continue
            if con.conname == name:
                return True
            if kind == "primary key" and con.contype == CON.CONSTR_PRIMARY:
                return True
            if kind == "foreign key" and con.contype == CON.CONSTR_FOREIGN:
                if parent is None or relname(con.pktable) == parent:
                    return True
    return False


def _attached_before(ctx: MigrationContext, stmt: Statement, table: str) -> bool:
    """Was ``table`` attached as a partition earlier in this migration?"""
    for earlier in ctx.statements[: stmt.index]:
        node = earlier.node
        if isinstance(node, ast.AlterTableStmt):
            for cmd in node.cmds or ():
                if cmd.subtype == AT.AT_AttachPartition and relname(getattr(cmd.def_, "name", None)) == table:
                    return True
    return False
