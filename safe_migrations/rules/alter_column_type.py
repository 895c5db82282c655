"""SM109 alter-column-type."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import recipes
from ..parsing.statement import Lock, Statement
from ..pgtypes import rewrites, rewrites_from_unknown
from ._ast import AT, alter_cmds, deparse
from .base import Hit, Rule


class AlterColumnType(Rule):
    """A column type change that rewrites the table and its indexes under ACCESS EXCLUSIVE.

    ## What it does
    Flags `ALTER COLUMN ... TYPE` on an existing table when the change is not
    binary coercible. The old type comes from Django's field before the
    operation, so growing a `varchar`, `varchar` to `text`, widening `numeric`
    precision, and (PostgreSQL 12+ with a UTC session, Django's default with
    `USE_TZ = True`) `timestamp` to `timestamptz` pass: they only touch the
    catalogue. Shrinking `max_length`, `text` to `varchar(n)`, `integer` to
    `bigint`, a scale change and other type changes are flagged.

    ## Why is this bad?
    PostgreSQL writes a new copy of the table and rebuilds every index while
    holding ACCESS EXCLUSIVE: nothing reads or writes the table for a time
    proportional to its size. Old code may also send values the new type rejects
    (a shorter `max_length`).

    ## Example
    ```python
    migrations.AlterField("order", "quantity", models.BigIntegerField()),  # was IntegerField
    ```

    ## Use instead
    Expand and contract: add a nullable column of the new type outside Django's
    state (RunSQL, so the running code never selects it), keep it in sync with a
    trigger, backfill it in batches, then swap the names in one short
    transaction and drop the old column in a later release.
    ```python
    migrations.RunSQL(
        ['ALTER TABLE "shop_order" ADD COLUMN "quantity_new" bigint NULL',
         "CREATE FUNCTION ... NEW.quantity_new := NEW.quantity ...", "CREATE TRIGGER ..."],
        reverse_sql=["DROP TRIGGER ...", "DROP FUNCTION ...",
                     'ALTER TABLE "shop_order" DROP COLUMN "quantity_new"'],
    ),
    ```
    The copy assigns the old value as `ALTER TYPE` would, so a value the new
    type cannot hold (a string longer than a shrunk `max_length`) fails the
    backfill instead of being truncated.
    """

    code = "SM109"
    name = "alter-column-type"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd in alter_cmds(stmt.node, AT.AT_AlterColumnType):
            if ctx.is_new_table(table, stmt):
                continue
            op = stmt.operation
            if (
                op.old_field is not None
                and op.new_field is not None
                and op.old_field.primary_key
                and op.new_field.primary_key
            ):
                continue  # a primary key type change is change-pk-type (SM110)
            new_sql_type = deparse(cmd.def_.typeName) if cmd.def_ is not None else None
            old_type = op.old_field.db_type if op.old_field else None
            new_type = op.new_field.db_type if op.new_field else new_sql_type
            if op.old_field is None:  # hand-written SQL: the old type is unknown
                verdict = rewrites_from_unknown(
                    new_sql_type, server_version=ctx.target.server_version, session_utc=ctx.target.session_utc
                )
            else:
                verdict = rewrites(
                    old_type,
                    new_type,
                    server_version=ctx.target.server_version,
                    session_utc=ctx.target.session_utc,
                )
            if verdict is False:
                continue
            change = f"from {old_type} to {new_type}" if old_type else f"to {new_sql_type}"
            if verdict is None:
                message = (
                    f"Changing the type of {table}.{cmd.name} {change}: unless the change is binary "
                    "coercible PostgreSQL rewrites the table and every index under ACCESS EXCLUSIVE."
                )
                severity = Severity.WARNING
            else:
                message = (
                    f"Changing the type of {table}.{cmd.name} {change} rewrites the table and every "
                    f"index under ACCESS EXCLUSIVE: no query on {table} runs until the copy ends."
                )
                severity = None
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.change_type(
                    op,
                    table,
                    cmd.name,
                    new_type,
                    _using(cmd.def_, cmd.name),
                    server_version=ctx.target.server_version,
                    django_version=ctx.target.django_version,
                ),
                severity=severity,
            )


def _using(coldef: Any, column: str) -> tuple[str, str] | None:
    """The ALTER's USING expression over the column, and over a trigger's NEW row."""
    expression = getattr(coldef, "raw_default", None)
    if expression is None:
        return None
    over_new = copy.deepcopy(expression)
    stack: list[Any] = [over_new]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ColumnRef) and [getattr(f, "sval", None) for f in node.fields or ()] == [
            column
        ]:
            node.fields = (ast.String(sval="NEW"), ast.String(sval=column))
        elif isinstance(node, ast.Node):
            stack.extend(getattr(node, attr) for attr in node)
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return deparse(expression), deparse(over_new)
