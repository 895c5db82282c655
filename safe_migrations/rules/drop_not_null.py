"""SM207 drop-not-null."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._ast import AT, alter_cmds
from ._compat import column_added_before, removed_from_state_later, state_columns
from .base import Hit, Rule


class DropNotNull(Rule):
    """A column becomes nullable while code that never expected NULL still reads it.

    ## What it does
    Reports `ALTER COLUMN ... DROP NOT NULL` on an existing column: `AlterField`
    from `null=False` to `null=True`, or hand-written SQL on a column the model
    state knows. This is the usual *expand* step and is only informational. It
    stays silent when the same migration removes the field from the state (the
    first release of the drop-column recipe), and for columns added earlier in
    the same migration.

    ## Why is this bad?
    Writers are fine: old code keeps sending values. But once the new code (or a
    job, or another service) starts writing NULL, the old code, reports and
    consumers that read the column may not handle `None`. The statement takes
    ACCESS EXCLUSIVE briefly (catalogue only, no scan); without a lock_timeout it
    can still queue behind a long transaction and stall the table.

    ## Example
    ```python
    migrations.AlterField("customer", "name", models.CharField(max_length=100, null=True)),
    ```

    ## Use instead
    When writers only need to be able to omit the value, keep the column NOT
    NULL and let the database fill it (Django 5.0+; `SET DEFAULT` is catalogue
    only), so no reader ever sees NULL:
    ```python
    migrations.AlterField("customer", "name", models.CharField(max_length=100, db_default="")),
    ```
    When NULL is really needed, deploy readers that handle it before any writer
    produces it, and bound the brief lock with `SET LOCAL lock_timeout`. The
    finding is informational; raise its severity in projects whose database is
    shared with other consumers.
    """

    code = "SM207"
    name = "drop-not-null"
    severity = Severity.INFO

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        op = stmt.operation
        for table, cmd in alter_cmds(stmt.node, AT.AT_DropNotNull):
            column = str(cmd.name)
            if ctx.is_new_table(table, stmt) or column_added_before(ctx, stmt, table, column):
                continue
            if op.kind == "RunSQL":
                columns = state_columns(op, table)
                if columns is not None and column not in columns:
                    continue  # no model reads it
            elif removed_from_state_later(ctx, op):
                continue  # drop-column recipe: no new code reads it any more
            yield Hit(
                f"{table}.{column} becomes nullable: code, reports and other consumers reading it that "
                "never saw NULL break once something writes NULL.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=compat.drop_not_null(op, table, column, ctx.target.django_version),
            )
