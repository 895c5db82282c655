"""SM203 rename-column."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._compat import (
    column_added_before,
    column_reappears,
    column_renames,
    column_vacated_before,
    portable,
    state_columns,
    table_rename,
)
from .base import Hit, Rule


class RenameColumn(Rule):
    """A column renamed while old and new code each expect their own name.

    ## What it does
    Flags `ALTER TABLE ... RENAME COLUMN` on an existing column: `RenameField`,
    an `AlterField` that changes `db_column`, and hand-written `RENAME COLUMN` in
    `RunSQL` on a column the model state knows (under its old or new name).
    Columns added earlier in the same migration, and a column swap done in one
    transaction (the old name is taken over again by another column, as in the
    change-column-type recipe) pass.

    On MySQL, MariaDB, SQLite and Oracle, whose SQL is not parsed into a tree,
    the same hazard is judged from the Django operation itself.

    ## Why is this bad?
    Django names every column in its queries. The old code keeps using the old
    name until its last pod is gone, the new code uses the new name, and only one
    of them exists at any time: whichever runs against the other schema fails with
    `column ... does not exist` on every query of the model. The rename itself is
    a brief catalogue change under ACCESS EXCLUSIVE.

    ## Example
    ```python
    migrations.RenameField("customer", "fax", "telefax"),
    ```

    ## Use instead
    Rename the Python attribute only and keep the column name:
    ```python
    # model: telefax = models.CharField(max_length=20, null=True, db_column="fax")
    migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.RenameField("customer", "fax", "telefax"),
            migrations.AlterField("customer", "telefax",
                                  models.CharField(max_length=20, null=True, db_column="fax")),
        ],
        database_operations=[],
    ),
    ```
    A physical rename is an expand/contract over several releases: add the new
    column, copy writes with a trigger and backfill, move the code, then drop the
    old column.
    """

    code = "SM203"
    name = "rename-column"
    severity = Severity.ERROR
    vendors = frozenset({"*"})  # other backends: judged from the operation (check_operation)

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        renamed = column_renames(stmt.node)
        if renamed is None:
            return
        table, old, new = renamed
        op = stmt.operation
        if ctx.is_new_table(table, stmt) or column_added_before(ctx, stmt, table, old):
            return
        if op.kind == "RenameModel" and any(table_rename(s.node) for s in ctx.statements_of(op)):
            return  # many-to-many columns named after the model: reported with the table (rename-table)
        if op.kind == "RunSQL":
            columns = state_columns(op, table)
            if columns is not None and old not in columns and new not in columns:
                return  # no model uses the column under either name
        # A swap in one transaction (old -> tmp, new -> old) keeps every name the code uses.
        if column_reappears(ctx, stmt, table, old) or column_vacated_before(ctx, stmt, table, new):
            return
        yield Hit(
            f"Renaming {table}.{old} to {new} breaks whichever code runs against the other name: "
            f"old pods query {old!r} until they are replaced, the new code queries {new!r}, and each "
            "fails with 'column does not exist' on every query of the model.",
            statement=stmt,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=table,
            fix=compat.rename_column(op, table, old, new),
        )

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        # Other backends: RenameField, or AlterField changing db_column, renames the column.
        old_field, new_field = op.old_field, op.new_field
        if op.kind not in ("RenameField", "AlterField") or not portable(ctx, op):
            return
        if old_field is None or new_field is None or old_field.many_to_many or new_field.many_to_many:
            return
        old, new = old_field.column or old_field.name, new_field.column or new_field.name
        if old == new:
            return  # db_column kept the name: a state-only rename
        table = op.model_before.db_table if op.model_before else "?"
        yield Hit(
            f"Renaming {table}.{old} to {new} breaks whichever code runs against the other name: "
            f"old pods query {old!r} until they are replaced, the new code queries {new!r}.",
            operation=op,
            table=table,
            fix=compat.rename_column(op, table, old, new),
        )
