"""SM201 drop-column."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import recipes
from ..parsing.statement import Lock, Statement
from ._ast import AT, alter_cmds
from ._compat import portable, state_operations
from .base import Hit, Rule


class DropColumn(Rule):
    """A column dropped while the running code still selects and inserts it.

    ## What it does
    Flags `ALTER TABLE ... DROP COLUMN` on an existing table when Django's model
    state still has the column just before the operation: `RemoveField`, or
    hand-written SQL dropping a column the models still declare (a `RunSQL`
    whose own `state_operations` remove the field drops it in the same release,
    so it counts as declared). Dropping a
    column that an earlier release already removed from the state
    (`SeparateDatabaseAndState`) is the safe second step and is not flagged.

    On MySQL, MariaDB, SQLite and Oracle, whose SQL is not parsed into a tree,
    the same hazard is judged from the Django operation itself.

    ## Why is this bad?
    Django names every column in its SELECT and INSERT statements. While the
    migration runs and until the last old pod is gone, the old code queries the
    dropped column and fails with `column ... does not exist`. The data is gone
    too: a rollback cannot bring it back. (The lock itself is ACCESS EXCLUSIVE
    but brief; PostgreSQL drops the column in the catalogue only.)

    ## Example
    ```python
    migrations.RemoveField("customer", "fax"),
    ```

    ## Use instead
    ```python
    # release N: the model no longer declares `fax`; the column stays
    migrations.AlterField("customer", "fax", models.CharField(max_length=20, null=True)),  # if NOT NULL
    migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]),
    # release N+1, once no old pod runs
    migrations.RunSQL('ALTER TABLE "shop_customer" DROP COLUMN IF EXISTS "fax"',
                      reverse_sql='ALTER TABLE "shop_customer" ADD COLUMN IF NOT EXISTS "fax" varchar(20) NULL')
    ```
    """

    code = "SM201"
    name = "drop-column"
    severity = Severity.ERROR
    vendors = frozenset({"*"})  # other backends: judged from the operation (check_operation)

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd in alter_cmds(stmt.node, AT.AT_DropColumn):
            if ctx.is_new_table(table, stmt):
                continue
            op = stmt.operation
            column = cmd.name
            if op.kind == "RemoveField" or op.old_field is not None:
                known = True
            else:
                columns = dict(op.state_tables).get(table.split(".")[-1])
                known = columns is None or column in columns  # unknown table: assume in use
                # state_tables is the state after the RunSQL's own state_operations: a
                # RemoveField there drops the column in the same release as the model field.
                known = known or _removed_by_own_state(op, str(column))
            if not known:
                continue  # the state no longer has it: the contract step of a two-release drop
            yield Hit(
                f"Dropping {table}.{column} breaks the code still running: Django selects and inserts "
                "every column of the model by name, so old pods fail with 'column does not exist' "
                "until they are replaced, and the data cannot be restored by a rollback.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.drop_column(op, table, column, ctx.target.vendor),
            )

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        # Other backends: the operation tells the hazard (PostgreSQL reads the SQL instead).
        field = op.old_field
        if op.kind != "RemoveField" or not portable(ctx, op) or field is None or field.many_to_many:
            return
        table = op.model_before.db_table if op.model_before else "?"
        column = field.column or field.name
        yield Hit(
            f"Dropping {table}.{column} breaks the code still running: Django selects and inserts "
            "every column of the model by name, so old pods fail with an unknown-column error until "
            "they are replaced, and the data cannot be restored by a rollback.",
            operation=op,
            table=table,
            fix=recipes.drop_column(op, table, column, ctx.target.vendor),
        )


def _removed_by_own_state(op: OperationFacts, column: str) -> bool:
    for kind, kwargs in state_operations(op):
        name = str(kwargs.get("name", kwargs.get("_1", "")))
        if kind == "RemoveField" and column in (name, f"{name}_id"):
            return True
    return False
