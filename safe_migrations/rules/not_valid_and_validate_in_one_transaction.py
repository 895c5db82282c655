"""SM107 not-valid-and-validate-in-one-transaction."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import constraints as recipes
from ..fixes.recipes import q
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, deparse
from ._ast import clone as _clone
from ._constraints import added_constraints, not_valid_added, same_transaction
from .base import Hit, Rule


class NotValidAndValidateInOneTransaction(Rule):
    """A NOT VALID constraint validated in the same transaction, which makes NOT VALID pointless.

    ## What it does
    Flags `ALTER TABLE ... VALIDATE CONSTRAINT` when the constraint was added
    `NOT VALID` earlier in the same transaction: `AddConstraintNotValid` and
    `ValidateConstraint` in one atomic migration, both statements in one `RunSQL`
    of an atomic migration, or both in one `RunSQL` string of an `atomic = False`
    migration (PostgreSQL runs a multi-statement string as one transaction).

    ## Why is this bad?
    `NOT VALID` exists to split the work: the brief `ADD` takes the strong lock
    (ACCESS EXCLUSIVE for a CHECK, SHARE ROW EXCLUSIVE on both tables for a
    foreign key) without reading the table, and `VALIDATE` later scans it under
    SHARE UPDATE EXCLUSIVE, which lets reads and writes go on. Locks last until
    the transaction ends, so in one transaction the scan runs while the `ADD`'s
    lock is still held: the outage is the same as adding the constraint valid.

    ## Example
    ```python
    operations = [
        AddConstraintNotValid(
            "order", models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_quantity_gte_1")
        ),
        ValidateConstraint("order", "order_quantity_gte_1"),
    ]
    ```

    ## Use instead
    ```python
    # migration 1
    operations = [
        AddConstraintNotValid(
            "order", models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_quantity_gte_1")
        ),
    ]
    # migration 2: its own transaction, SHARE UPDATE EXCLUSIVE only
    operations = [ValidateConstraint("order", "order_quantity_gte_1")]
    ```
    Since PostgreSQL 9.4 `VALIDATE CONSTRAINT` takes SHARE UPDATE EXCLUSIVE
    (ACCESS EXCLUSIVE before). A constraint on a table created in the same
    migration is not flagged.
    """

    code = "SM107"
    name = "not-valid-and-validate-in-one-transaction"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd in alter_cmds(stmt.node, AT.AT_ValidateConstraint):
            name = str(cmd.name)
            added = not_valid_added(ctx, stmt, table, name)
            if added is None or ctx.is_new_table(table, stmt) or not same_transaction(ctx, added, stmt):
                continue
            con = next(c for t, _, c, _ in added_constraints(added.node) if t == table and c.conname == name)
            if con.contype == CON.CONSTR_FOREIGN:
                parent = relname(con.pktable)
                lock = Lock.SHARE_ROW_EXCLUSIVE
                blocked = f"no INSERT, UPDATE or DELETE on {table} or {parent} runs"
            else:
                lock = Lock.ACCESS_EXCLUSIVE
                blocked = f"no query on {table} runs"
            held = ctx.lock_held_before(stmt, table)
            if held is not None and held[0].lock > lock:
                lock = held[0].lock
                blocked = f"no query on {table} runs"
            yield Hit(
                f"Constraint {name} is added NOT VALID and validated in the same transaction: the "
                f"{lock.label} lock taken by the ADD is still held while VALIDATE reads all of {table}, so "
                f"{blocked} until the scan ends, exactly as if it had been added valid.",
                statement=stmt,
                lock=lock.label,
                table=table,
                fix=recipes.validate_later(
                    added.operation,
                    stmt.operation,
                    table,
                    name,
                    _without_validate(added) if added.index == stmt.index else added.sql,
                    f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}",
                ),
            )


def _without_validate(stmt: Statement) -> str:
    """The statement with its VALIDATE CONSTRAINT subcommands removed."""
    clone = _clone(stmt.node)
    clone.cmds = tuple(c for c in clone.cmds if c.subtype != AT.AT_ValidateConstraint)
    return deparse(clone)
