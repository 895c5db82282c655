"""SM206 add-column-callable-default."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..facts import FieldFacts
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, column_constraints
from .base import Hit, Rule


def _literal_default(coldef: Any) -> bool:
    """The column's DEFAULT is a constant (what Django writes for a Python-side default)."""
    for con in column_constraints(coldef):
        if con.contype != CON.CONSTR_DEFAULT:
            continue
        expr = con.raw_expr
        while isinstance(expr, ast.TypeCast):
            expr = expr.arg
        return isinstance(expr, ast.A_Const)
    return False


# Builtin factories (``default=dict``) return the same empty value on every call: sharing it is
# exactly what the callable was for (a fresh mutable object per instance), not a hazard.
_CONSTANT_FACTORIES = frozenset(
    {"dict", "list", "set", "frozenset", "tuple", "str", "bytes", "int", "float", "bool", "Decimal"}
)


def _computed_once(field: FieldFacts) -> str | None:
    """What Django evaluates once for every existing row, or None."""
    if field.has_db_default:
        return None  # Django >= 5.0 adds the column with the database default instead
    if field.has_default:
        code = field.default_code or ""
        if not field.default_callable or code.rsplit(".", 1)[-1] in _CONSTANT_FACTORIES:
            return None
        return code
    kwargs = dict(field.kwargs_code)
    for flag in ("auto_now", "auto_now_add"):
        if kwargs.get(flag) == "True":
            return f"{flag}=True"
    return None


class AddColumnCallableDefault(Rule):
    """A new column whose callable default Django evaluates only once, for every existing row.

    ## What it does
    Flags `AddField` on an existing table when the field's `default` is a
    callable (`uuid.uuid4`, `timezone.now`, your own function) or the field has
    `auto_now`/`auto_now_add`. Django calls the callable a single time while it
    generates the SQL and writes the result as a literal:
    `ADD COLUMN "uid" uuid DEFAULT 'b984...'::uuid NOT NULL`, then drops the
    default. The rule is an error when the field is `unique` or a primary key,
    a warning otherwise. Builtin factories such as `default=dict` pass: one
    shared empty value is what they are for.

    ## Why is this bad?
    Every row already in the table receives the same value. With `unique=True`
    the unique index cannot be built and the migration fails halfway through the
    deploy, on production data only (an empty test database passes). Otherwise
    the rows silently share one "random" identifier or one timestamp, the time the
    migration ran. Adding the column takes ACCESS EXCLUSIVE briefly (no rewrite on
    PostgreSQL 11+); when the column is NOT NULL the dropped default also breaks
    INSERTs from the old code (see add-not-null-column-without-db-default).

    ## Example
    ```python
    migrations.AddField("customer", "uid", models.UUIDField(default=uuid.uuid4, unique=True)),
    ```

    ## Use instead
    ```python
    # migration 1: nullable, no database default; the Python default is state only (no SQL)
    migrations.AddField("customer", "uid", models.UUIDField(null=True)),
    migrations.AlterField("customer", "uid", models.UUIDField(null=True, default=uuid.uuid4)),
    # migration 2 (atomic = False): RunPython that sets uuid.uuid4() row by row, in batches
    # then: unique index CONCURRENTLY + ADD CONSTRAINT ... USING INDEX, and NOT NULL via a
    # validated CHECK (see add-unique-constraint and set-not-null)
    ```
    For a timestamp on Django 5.0+, `db_default=Now()` keeps the default in the
    database (no rewrite on PostgreSQL 11+), though existing rows still get the
    migration's time. `db_default=RandomUUID()` rewrites the whole table.
    """

    code = "SM206"
    name = "add-column-callable-default"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        op = stmt.operation
        field = op.new_field
        if op.kind != "AddField" or field is None:
            return
        once = _computed_once(field)
        if once is None:
            return
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddColumn):
            coldef = cmd.def_
            if ctx.is_new_table(table, stmt) or not isinstance(coldef, ast.ColumnDef):
                continue
            if not _literal_default(coldef):
                continue
            column = str(coldef.colname)
            unique = field.unique or field.primary_key
            source = f"calls {once}" if "=" not in once else f"evaluates {once}"
            message = (
                f"Django {source} once while migrating and writes that single value into "
                f"{table}.{column} for every existing row"
            )
            if unique:
                kind = "primary key" if field.primary_key else "unique"
                message += (
                    f": the {kind} index then fails on the duplicates and the migration aborts midway "
                    "through the deploy, on production data only."
                )
            else:
                shared = "the time the migration ran" if compat.is_time(field) else "one identical value"
                message += f": the rows silently share {shared}."
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=compat.callable_default(op, field, table, column, ctx.target.django_version),
                severity=Severity.ERROR if unique else None,
            )
