"""SM111 add-column-volatile-default."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import tables
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, deparse, has_constraint
from ._ast import clone as _clone
from ._tables import (
    declared_volatility,
    default_expr,
    is_identity,
    is_serial,
    stored_generated,
    volatile_calls,
    walk,
)
from .base import Hit, Rule


class AddColumnVolatileDefault(Rule):
    """A new column whose value is computed per row: the whole table is rewritten.

    ## What it does
    Flags `ADD COLUMN` on an existing table when the column's DEFAULT calls a
    VOLATILE function (`gen_random_uuid()`, `clock_timestamp()`, `random()`,
    `nextval()`, ...; Django's `db_default=RandomUUID()`), or when the column is
    `GENERATED ALWAYS AS (...) STORED` (`GeneratedField(db_persist=True)`).
    Volatility comes from PostgreSQL's own catalogue (`pg_proc.provolatile`),
    looked up through casts and parentheses, and from the volatility declared by
    a `CREATE FUNCTION` earlier in the migration. STABLE and IMMUTABLE defaults
    such as `now()` or Django's `Now()` (`STATEMENT_TIMESTAMP()`) pass on
    PostgreSQL 11 and later; on PostgreSQL 10 and older every non-NULL DEFAULT
    is flagged. Serial and identity columns are reported by add-primary-key.

    ## Why is this bad?
    PostgreSQL 11+ stores a constant or STABLE default once in the catalogue, but
    a volatile default must be evaluated for every existing row and a stored
    generated column computed for each of them: PostgreSQL rewrites the table
    and rebuilds all its indexes while holding ACCESS EXCLUSIVE. No query, not
    even a SELECT, runs on the table until the copy is done (measured: 331 ms
    for 200,000 narrow rows, against 0.5 ms for a constant default).

    ## Example
    ```python
    from django.contrib.postgres.functions import RandomUUID

    migrations.AddField("customer", "uid", models.UUIDField(db_default=RandomUUID())),
    ```

    ## Use instead
    Add the column nullable, give it the default for new rows only (SET DEFAULT
    is a catalogue change), backfill the existing rows in batches, then make it
    NOT NULL with a validated CHECK:
    ```python
    # migration 1
    migrations.AddField("customer", "uid", models.UUIDField(null=True)),
    migrations.AlterField("customer", "uid", models.UUIDField(null=True, db_default=RandomUUID())),
    # migration 2 (atomic = False): batched backfill, e.g. .update(uid=RandomUUID()) per batch
    # migrations 3-5: NOT NULL through CHECK ... NOT VALID, VALIDATE, SET NOT NULL
    ```
    For a generated column, add a plain nullable column filled by a
    `BEFORE INSERT OR UPDATE` trigger and backfill it in batches; PostgreSQL 18
    also offers VIRTUAL generated columns, computed on read, which add without a
    rewrite.
    """

    code = "SM111"
    name = "add-column-volatile-default"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddColumn):
            coldef = cmd.def_
            if ctx.is_new_table(table, stmt) or not isinstance(coldef, ast.ColumnDef):
                continue
            if is_serial(coldef) or is_identity(coldef):
                continue  # a counter column: add-primary-key reports it
            column = str(coldef.colname)
            column_type = deparse(coldef.typeName)
            op = stmt.operation
            generated = stored_generated(coldef)
            if generated is not None:
                expression = deparse(generated.raw_expr)
                on_new = _clone(generated.raw_expr)
                for node in walk(on_new):
                    if isinstance(node, ast.ColumnRef):
                        node.fields = (ast.String("new"), *(node.fields or ()))
                message = (
                    f"Adding stored generated column {table}.{column} computes {expression} for every "
                    f"existing row: PostgreSQL rewrites {table} and all its indexes under ACCESS "
                    f"EXCLUSIVE, and no query on {table} runs until the copy ends."
                )
                fix = tables.stored_generated(
                    op, table, column, column_type, expression, deparse(on_new), ctx.target.server_version
                )
                yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)
                continue
            expr = default_expr(coldef)
            if expr is None:
                continue
            default_sql = deparse(expr)
            volatile = volatile_calls(expr, declared_volatility(ctx, stmt))
            if volatile:
                calls = " and ".join(f"{name}()" for name in volatile)
                verb = "is" if len(volatile) == 1 else "are"
                message = (
                    f"Adding {table}.{column} with DEFAULT {default_sql} rewrites {table} and all its "
                    f"indexes under ACCESS EXCLUSIVE: {calls} {verb} VOLATILE, so PostgreSQL evaluates "
                    f"the default for every existing row, and no query on {table} runs until the copy ends."
                )
            elif ctx.target.server_version < 11:
                message = (
                    f"Adding {table}.{column} with DEFAULT {default_sql} on PostgreSQL "
                    f"{ctx.target.server_version} rewrites {table} and all its indexes under ACCESS "
                    "EXCLUSIVE (only PostgreSQL 11+ keeps a non-volatile default in the catalogue): "
                    f"no query on {table} runs until the copy ends."
                )
            else:
                continue
            fix = tables.volatile_default(
                op,
                table,
                column,
                column_type,
                default_sql,
                has_constraint(coldef, CON.CONSTR_NOTNULL),
                ctx.target.server_version,
                ctx.target.django_version,
            )
            yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)
