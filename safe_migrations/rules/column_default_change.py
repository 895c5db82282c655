"""SM208 column-default-change."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._ast import AT, alter_cmds
from ._compat import column_added_before, post_deploy, state_columns
from .base import Hit, Rule


class ColumnDefaultChange(Rule):
    """The database default of a column changes while the running code relies on it.

    ## What it does
    Flags `ALTER COLUMN ... SET DEFAULT` and `DROP DEFAULT` on an existing column
    whose current database default the code still relies on: `AlterField` that
    changes or removes a `db_default` (Django 5.0+), and hand-written
    `DROP DEFAULT` in `RunSQL` on a column the model state knows. Not flagged:
    giving a column its first database default (an expand step: Django's own
    code always sends the value unless the field has `db_default`), the
    `DROP DEFAULT` Django emits right after its own `ADD COLUMN` (see
    add-not-null-column-without-db-default), columns added in the same migration,
    and migrations marked `safe_migrations_phase = "post-deploy"`.

    ## Why is this bad?
    For a field with `db_default`, Django leaves the column out of its INSERTs and
    lets the database fill it. Change the default while the old code runs and
    the old code's rows silently get the new value; drop it and they get NULL, or
    fail with `null value ... violates not-null constraint` when the column is
    NOT NULL. The statement itself takes ACCESS EXCLUSIVE briefly (catalogue
    only).

    ## Example
    ```python
    migrations.AlterField("customer", "points", models.IntegerField(db_default=10)),  # was db_default=0
    ```

    ## Use instead
    ```python
    # release N: the code sends the new value itself; the database default stays 0 (no SQL)
    migrations.AlterField("customer", "points", models.IntegerField(default=10, db_default=0)),
    # release N+1, after every old pod is gone (safe_migrations_phase = "post-deploy")
    migrations.AlterField("customer", "points", models.IntegerField(db_default=10)),
    ```
    """

    code = "SM208"
    name = "column-default-change"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        if post_deploy(ctx):
            return  # declared to run once no old code is left
        op = stmt.operation
        for table, cmd in alter_cmds(stmt.node, AT.AT_ColumnDefault):
            column = str(cmd.name)
            dropping = cmd.def_ is None
            if ctx.is_new_table(table, stmt) or column_added_before(ctx, stmt, table, column):
                continue
            if op.kind == "RunSQL":
                if not dropping:
                    continue  # the previous database default is unknown: adding one is an expand step
                columns = state_columns(op, table)
                if columns is not None and column not in columns:
                    continue
                message = (
                    f"Dropping the DEFAULT of {table}.{column}: writers that leave the column out (Django "
                    "fields with db_default, raw SQL, other services) get NULL instead, or a not-null "
                    "violation when the column is NOT NULL."
                )
            else:
                old, new = op.old_field, op.new_field
                if old is None or new is None or not old.has_db_default:
                    continue  # not a default the running code relies on
                if dropping:
                    if new.has_db_default:
                        continue  # re-set by a later statement of the operation
                    if new.null:
                        outcome = "now get NULL"
                    else:
                        outcome = "now fail with a not-null violation"
                    message = (
                        f"Dropping db_default={old.db_default_code} of {table}.{column}: the old code leaves "
                        f"the column out of its INSERTs and lets the database fill it, so its rows {outcome}."
                    )
                else:
                    if old.db_default_code == new.db_default_code:
                        continue
                    message = (
                        f"Changing the database default of {table}.{column} from {old.db_default_code} to "
                        f"{new.db_default_code}: the old code leaves the column out of its INSERTs, so its "
                        "new rows silently get the new value."
                    )
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=compat.default_change(op, table, column, dropping=dropping),
            )
