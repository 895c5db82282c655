"""SM204 rename-table."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._compat import (
    bare,
    column_renames,
    portable,
    relation_reappears,
    relation_vacated_before,
    state_columns,
    table_rename,
)
from .base import Hit, Rule


class RenameTable(Rule):
    """A table renamed while the running code still queries it by its old name.

    ## What it does
    Flags `ALTER TABLE ... RENAME TO` on an existing table: `RenameModel`,
    `AlterModelTable`, the many-to-many tables they (and `RenameField` of a
    `ManyToManyField`) rename, and hand-written renames in `RunSQL` of a table the
    model state knows under its old or new name. A rename followed in the same
    transaction by `CREATE VIEW <old name>` (or by another relation taking the old
    name, as in a table swap) passes: the old code keeps working through the view.

    On MySQL, MariaDB, SQLite and Oracle, whose SQL is not parsed into a tree,
    the same hazard is judged from the Django operation itself.

    ## Why is this bad?
    The table name is in every query Django sends. Until the last old pod is
    gone, the old code queries the old name and fails with `relation ... does not
    exist`; before the migration runs the new code fails on the new name. The
    rename is a brief catalogue change under ACCESS EXCLUSIVE.

    ## Example
    ```python
    migrations.RenameModel("Order", "Purchase"),
    ```

    ## Use instead
    Rename the model only and keep its table:
    ```python
    # model Purchase with Meta.db_table = "shop_order"
    migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.RenameModel("Order", "Purchase"),
            migrations.AlterModelTable("Purchase", "shop_order"),
        ],
        database_operations=[],
    ),
    ```
    When the table itself must be renamed, leave a view with the old name in the
    same transaction (simple views accept SELECT, INSERT, UPDATE and DELETE) and
    drop it in a post-deploy migration of the next release:
    ```python
    migrations.RunSQL('ALTER TABLE "shop_order" RENAME TO "shop_purchase"; '
                      'CREATE VIEW "shop_order" AS SELECT * FROM "shop_purchase"', ...),
    ```
    """

    code = "SM204"
    name = "rename-table"
    severity = Severity.ERROR
    vendors = frozenset({"*"})  # other backends: judged from the operation (check_operation)

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        renamed = table_rename(stmt.node)
        if renamed is None:
            return
        old, new = renamed
        op = stmt.operation
        if ctx.is_new_table(old, stmt):
            return
        if op.kind == "RunSQL":
            if state_columns(op, old) is None and state_columns(op, new) is None:
                return  # no model uses the table under either name
        if relation_reappears(ctx, stmt, old) is not None or relation_vacated_before(ctx, stmt, new):
            return  # a view (or the swapped-in table) answers to the old name
        others: list[tuple[str, str]] = []
        if op.kind in ("RenameModel", "AlterModelTable") and op.model_before is not None:
            own = op.model_before.db_table
            renames = [r for s in ctx.statements_of(op) if (r := table_rename(s.node)) is not None]
            if bare(old) != own and any(bare(o) == own for o, _ in renames):
                return  # reported once, with the model's own table
            others = [(o, n) for o, n in renames if bare(o) != own and bare(o) != bare(old)]
        through = self._is_through(op, old)
        columns = op.kind == "RenameModel" and any(
            column_renames(s.node) is not None for s in ctx.statements_of(op)
        )
        what = f"many-to-many table {old}" if through else f"table {old}"
        message = (
            f"Renaming {what} to {bare(new)} breaks the code still running: old pods query {old!r} "
            "until they are replaced and fail with 'relation does not exist' on every query of the model."
        )
        if others:
            message += " Its many-to-many tables are renamed too: " + ", ".join(o for o, _ in others) + "."
        if columns:
            message += (
                " The operation also renames the columns that many-to-many tables name after the model."
            )
        yield Hit(
            message,
            statement=stmt,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=old,
            fix=compat.rename_table(
                op,
                old,
                new,
                through=through,
                through_columns=columns,
                others=others,
                vendor=ctx.target.vendor,
            ),
        )

    @staticmethod
    def _is_through(op: OperationFacts, table: str) -> bool:
        """A Django operation renaming a table other than its model's own: an M2M table."""
        if op.kind == "RenameField":
            return True
        model = op.model_before
        return op.kind in ("RenameModel", "AlterModelTable") and model is not None and model.db_table != table

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        # Other backends: RenameModel or AlterModelTable that changes the table name.
        if op.kind not in ("RenameModel", "AlterModelTable") or not portable(ctx, op):
            return
        if op.model_before is None or op.model_after is None:
            return
        old, new = op.model_before.db_table, op.model_after.db_table
        if old == new:
            return  # db_table pinned: a state-only rename
        yield Hit(
            f"Renaming table {old} to {new} breaks whichever code runs against the other name: old "
            f"pods query {old} until they are replaced, the new code queries {new}.",
            operation=op,
            table=old,
            fix=compat.rename_table(op, old, new, vendor=ctx.target.vendor),
        )
