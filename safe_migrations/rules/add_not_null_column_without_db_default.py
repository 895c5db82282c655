"""SM205 add-not-null-column-without-db-default."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import compat, recipes
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, char_flag, has_constraint
from ._compat import column_added_before, portable, post_deploy
from .base import Hit, Rule


class AddNotNullColumnWithoutDbDefault(Rule):
    """A NOT NULL column that ends up without a database default.

    ## What it does
    Flags `ADD COLUMN ... NOT NULL` on an existing table when the column has no
    DEFAULT once the migration is done. That is what Django emits for
    `AddField(null=False, default=X)`: `ADD COLUMN ... DEFAULT X NOT NULL` to fill
    the existing rows, then `ALTER COLUMN ... DROP DEFAULT` at once, because
    `default=` is a Python-side default. Without any DEFAULT the statement fails
    outright on a table that has rows. Also flags `AlterField` that removes the
    `db_default` of an existing NOT NULL column (`DROP DEFAULT`): the old code
    leaves that column out of its INSERTs (see column-default-change) and a
    column added and made NOT NULL in the same migration without a database
    default left (the old code does not know it).

    On MySQL, MariaDB, SQLite and Oracle, whose SQL is not parsed into a tree,
    the same hazard is judged from the Django operation itself.

    ## Why is this bad?
    The old code does not know the column and inserts rows without it. As soon
    as Django has dropped the database default, each of those INSERTs fails with
    `null value in column ... violates not-null constraint` until the last old
    pod is gone. On PostgreSQL 10 and older the constant DEFAULT also rewrites the
    whole table under ACCESS EXCLUSIVE.

    ## Example
    ```python
    migrations.AddField("customer", "points", models.IntegerField(default=0)),
    ```

    ## Use instead
    ```python
    # Django 5.0+: the database keeps the default; PostgreSQL 11+ adds it without a rewrite
    migrations.AddField("customer", "points", models.IntegerField(db_default=0)),
    ```
    Before Django 5.0, or for a per-row value: add the column with `null=True`,
    deploy code that writes it, backfill in batches, then make it NOT NULL with
    the set-not-null recipe.
    """

    code = "SM205"
    name = "add-not-null-column-without-db-default"
    severity = Severity.ERROR
    vendors = frozenset({"*"})  # other backends: judged from the operation (check_operation)

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        yield from self._db_default_removed(stmt, ctx)
        yield from self._new_column_made_required(stmt, ctx)
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddColumn):
            coldef = cmd.def_
            if ctx.is_new_table(table, stmt) or not isinstance(coldef, ast.ColumnDef):
                continue
            if (
                not has_constraint(coldef, CON.CONSTR_NOTNULL)
                or char_flag(coldef.identity)
                or char_flag(coldef.generated)
            ):
                continue
            if has_constraint(coldef, CON.CONSTR_PRIMARY):
                continue  # a new primary key is another hazard (add-primary-key)
            column = str(coldef.colname)
            has_default = has_constraint(coldef, CON.CONSTR_DEFAULT)
            dropped_by = self._default_dropped_later(ctx, stmt, table, column)
            if has_default and dropped_by is None:
                continue  # the database keeps the default: old INSERTs still work
            op = stmt.operation
            if not has_default:
                message = (
                    f"Adding NOT NULL column {table}.{column} without a DEFAULT fails on a table "
                    "that has rows, and old code inserting without the column fails too."
                )
            else:
                message = (
                    f"Django adds {table}.{column} as NOT NULL with a DEFAULT to fill existing rows, "
                    "then drops the default: from then on every INSERT from the old code, which does "
                    "not know the column, fails with a not-null violation."
                )
            if ctx.target.server_version < 11 and has_default:
                message += (
                    f" On PostgreSQL {ctx.target.server_version} the DEFAULT also rewrites the whole table."
                )
            field = op.new_field
            fix = (
                recipes.add_not_null_column(
                    op, field, ctx.target.django_version, table, add_sql=stmt.sql if has_default else None
                )
                if field
                else None
            )
            yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)

    @staticmethod
    def _new_column_made_required(stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        """ADD COLUMN (nullable), then SET NOT NULL in the same migration, with no database
        default left: the old code does not know the column, so its INSERTs fail."""
        for table, cmd in alter_cmds(stmt.node, AT.AT_SetNotNull):
            column = str(cmd.name)
            if ctx.is_new_table(table, stmt) or not column_added_before(ctx, stmt, table, column):
                continue
            if _default_at_end(ctx, table, column):
                continue
            op = stmt.operation
            field = op.new_field
            yield Hit(
                f"{table}.{column} is added and made NOT NULL in the same migration, with no database "
                "default left: the old code does not know the column, so every INSERT it makes fails "
                "with a not-null violation until the last old pod is gone.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.add_not_null_column(op, field, ctx.target.django_version, table)
                if field
                else None,
            )

    @staticmethod
    def _db_default_removed(stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        """AlterField dropping the db_default of an existing NOT NULL column: the same
        failure for old INSERTs as Django's DROP DEFAULT after AddField."""
        op = stmt.operation
        old, new = op.old_field, op.new_field
        if op.kind != "AlterField" or old is None or new is None:
            return
        if not old.has_db_default or new.has_db_default or new.null or post_deploy(ctx):
            return
        for table, cmd in alter_cmds(stmt.node, AT.AT_ColumnDefault):
            if cmd.def_ is not None or ctx.is_new_table(table, stmt):
                continue
            column = str(cmd.name)
            yield Hit(
                f"Dropping db_default={old.db_default_code} of NOT NULL column {table}.{column}: the old "
                "code leaves the column out of its INSERTs and lets the database fill it, so every one "
                "of them fails with a not-null violation until the last old pod is gone.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=compat.default_change(op, table, column, dropping=True),
            )

    @staticmethod
    def _default_dropped_later(
        ctx: MigrationContext, stmt: Statement, table: str, column: str
    ) -> Statement | None:
        for later in ctx.statements[stmt.index + 1 :]:
            for t, cmd in alter_cmds(later.node, AT.AT_ColumnDefault):
                if t == table and cmd.name == column and cmd.def_ is None:
                    return later
        return None

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        # Other backends: Django adds the column with its default, then drops the default
        # (MySQL) or rebuilds the table without it (SQLite): old INSERTs fail the same way.
        field = op.new_field
        if op.kind != "AddField" or not portable(ctx, op) or field is None:
            return
        if field.null or field.has_db_default or field.many_to_many or field.primary_key or field.generated:
            return
        table = op.model_before.db_table if op.model_before else "?"
        yield Hit(
            f"Django adds NOT NULL column {table}.{field.column or field.name} with a default only to fill "
            "the existing rows, then the column has none: every INSERT from the old code, which does not "
            "know the column, fails with a not-null error until the last old pod is gone.",
            operation=op,
            table=table,
            fix=recipes.add_not_null_column(op, field, ctx.target.django_version, table, ctx.target.vendor),
        )


def _default_at_end(ctx: MigrationContext, table: str, column: str) -> bool:
    """Whether the column still has a DEFAULT once the whole migration has run."""
    has = False
    for stmt in ctx.statements:
        for t, cmd in alter_cmds(stmt.node, AT.AT_AddColumn, AT.AT_ColumnDefault):
            if t != table:
                continue
            if cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                if cmd.def_.colname == column:
                    has = has_constraint(cmd.def_, CON.CONSTR_DEFAULT)
            elif cmd.name == column:
                has = cmd.def_ is not None
    return has
