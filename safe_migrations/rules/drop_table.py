"""SM202 drop-table."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast, enums

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._compat import OBJ, names, portable, state_columns, state_operations
from .base import Hit, Rule


class DropTable(Rule):
    """A table dropped while the running code still queries its model.

    ## What it does
    Flags `DROP TABLE` on a table that existed before the migration when Django's
    model state still has it: `DeleteModel` (Django emits `DROP TABLE ... CASCADE`),
    `RemoveField` of a `ManyToManyField` (its table is dropped), and hand-written
    `DROP TABLE` in `RunSQL` on a table of a model the state still declares.
    Dropping a table whose model an earlier release already removed from the
    state (`SeparateDatabaseAndState`) is the safe second step and is not flagged.

    On MySQL, MariaDB, SQLite and Oracle, whose SQL is not parsed into a tree,
    the same hazard is judged from the Django operation itself.

    ## Why is this bad?
    Until the last old pod is gone, the old code still selects from and writes to
    the model's table and fails with `relation ... does not exist`; the data is
    gone and a rollback cannot bring it back. `DROP TABLE` takes ACCESS
    EXCLUSIVE on the table and also on every table it references with a foreign
    key (removing the constraint's triggers locks the parent): a hot parent
    table such as `customer` is fully blocked for a moment, and longer if the drop
    waits in the lock queue. `CASCADE` also silently drops dependent views and
    the foreign keys of other tables.

    ## Example
    ```python
    migrations.DeleteModel("Order"),
    ```

    ## Use instead
    ```python
    # release N: the code no longer uses Order; the table stays
    migrations.SeparateDatabaseAndState(
        state_operations=[migrations.DeleteModel("Order")], database_operations=[]),
    # release N+1, once no old pod runs (safe_migrations_phase = "post-deploy")
    migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
    migrations.RunSQL('DROP TABLE IF EXISTS "shop_order"', migrations.RunSQL.noop),
    ```
    Remove other models' foreign keys to it first; if the model has foreign keys
    itself, give them `db_constraint=False` in release N so deleting parent rows
    keeps working for the new code.
    """

    code = "SM202"
    name = "drop-table"
    severity = Severity.ERROR
    vendors = frozenset({"*"})  # other backends: judged from the operation (check_operation)

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.DropStmt) or node.removeType != OBJ.OBJECT_TABLE:
            return
        op = stmt.operation
        for obj in node.objects or ():
            table = names(obj)
            if ctx.is_new_table(table, stmt):
                continue
            if op.kind == "RunSQL" and not self._state_has(op, table):
                continue  # an earlier release removed the model: the contract step of R1
            if op.kind == "RemoveField":
                what = f"the many-to-many table {table} of {op.model_name}.{op.field_name}"
            else:
                what = f"table {table}"
            message = (
                f"Dropping {what} breaks the code still running, which queries it until every old pod "
                "is replaced ('relation does not exist'); the rows are lost for good. DROP TABLE also "
                "takes ACCESS EXCLUSIVE on every table it references with a foreign key."
            )
            if node.behavior == enums.DropBehavior.DROP_CASCADE:
                message += " CASCADE silently drops dependent views and other tables' foreign keys too."
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=compat.drop_table(op, table, ctx.target.vendor),
            )

    @staticmethod
    def _state_has(op: OperationFacts, table: str) -> bool:
        if state_columns(op, table) is not None:
            return True
        # The collector records the state after the RunSQL's own state_operations: a
        # DeleteModel there means the model existed until this very operation.
        return any(kind == "DeleteModel" for kind, _ in state_operations(op))

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        # Other backends: the operation tells the hazard (PostgreSQL reads the SQL instead).
        if op.kind != "DeleteModel" or not portable(ctx, op) or op.model_before is None:
            return
        table = op.model_before.db_table
        yield Hit(
            f"Dropping table {table} (model {op.model_name}) breaks the code still running: old pods "
            "query it until they are replaced, and the data cannot be restored by a rollback.",
            operation=op,
            table=table,
            fix=compat.drop_table(op, table, ctx.target.vendor),
        )
