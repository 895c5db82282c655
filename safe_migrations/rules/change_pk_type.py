"""SM110 change-pk-type."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import tables
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, deparse
from ._tables import is_pk_type_change, pk_type_rewrites
from .base import Hit, Rule


class ChangePkType(Rule):
    """Changing the type of a primary key rewrites its table and every table that references it.

    ## What it does
    Flags `AlterField` on a primary key that changes its column type in a way
    PostgreSQL cannot do in the catalogue: typically `AutoField` to
    `BigAutoField` (`integer` to `bigint`), also what switching
    `DEFAULT_AUTO_FIELD` produces for existing models. Django emits
    `ALTER COLUMN id TYPE bigint` on the table, the same change on every foreign
    key column that points at it, drops and re-adds those foreign keys, and
    alters the sequence, all in one transaction. Growing a `varchar` primary key
    is catalogue-only and passes.

    ## Why is this bad?
    Each `ALTER COLUMN ... TYPE` rewrites its whole table and rebuilds every
    index on it while holding ACCESS EXCLUSIVE, and the locks of all the tables
    involved are held until the migration commits: the table and the tables
    that reference it accept neither reads nor writes until the last copy and
    the foreign key checks have finished. On the oldest, biggest tables of an
    application that is a long outage.

    ## Example
    ```python
    # shop_customer.id is an integer; shop_order.customer_id references it
    migrations.AlterField("customer", "id", models.BigAutoField(primary_key=True)),
    ```

    ## Use instead
    Move to the new type through new columns and a short swap (GitLab's
    procedure for integer primary keys): add `id_new bigint NULL` (and a new
    column next to each referencing column) outside the Django models, keep
    them in sync with triggers, backfill in batches, build the unique index and
    the foreign key indexes concurrently, prove NOT NULL with a validated CHECK,
    then swap in one short transaction and record the change in the state only:
    ```python
    migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunSQL(
            'LOCK TABLE "shop_customer", "shop_order" IN ACCESS EXCLUSIVE MODE; '
            'ALTER TABLE "shop_customer" RENAME COLUMN "id" TO "id_old"; ...'
            'ALTER TABLE "shop_customer" ADD CONSTRAINT "shop_customer_pkey" '
            'PRIMARY KEY USING INDEX "shop_customer_id_new_uniq"; ...'
        )],
        state_operations=[
            migrations.AlterField("customer", "id", models.BigAutoField(primary_key=True)),
        ],
    )
    ```
    The finding's fix writes out every migration with your table, column,
    constraint and sequence names. Better still, create new models with
    `BigAutoField` (`DEFAULT_AUTO_FIELD`) from the start. PostgreSQL 11 and
    older ignore the validated CHECK and scan for NULLs when the new primary
    key is attached: run the swap off-peak there.
    """

    code = "SM110"
    name = "change-pk-type"
    severity = Severity.ERROR

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if not is_pk_type_change(op) or op.model_before is None or op.old_field is None:
            return
        verdict = pk_type_rewrites(op, ctx)
        if verdict is False:
            return
        table = op.model_before.db_table
        column = op.old_field.column or op.old_field.name
        statements = ctx.statements_of(op)
        anchor: Statement | None = None
        fk_columns: list[tuple[str, str]] = []
        for stmt in statements:
            for t, cmd in alter_cmds(stmt.node, AT.AT_AlterColumnType):
                if ctx.is_new_table(t, stmt):
                    continue
                if (t, cmd.name) == (table, column):
                    anchor = anchor or stmt
                elif (t, cmd.name) not in fk_columns:
                    fk_columns.append((t, cmd.name))
        if anchor is None:
            return
        fks = [self._foreign_key(statements, t, c) for t, c in fk_columns]
        old_type = op.old_field.db_type
        new_type = op.new_field.db_type if op.new_field and op.new_field.db_type else "bigint"
        others = sorted({t for t, _ in fk_columns} - {table})
        revalidated = any(fk.definitions for fk in fks)
        if verdict:
            what = f"rewrites {table} and every index on it under ACCESS EXCLUSIVE"
        else:
            what = f"may rewrite {table} and every index on it under ACCESS EXCLUSIVE"
        message = f"Changing primary key {table}.{column} from {old_type} to {new_type} {what}"
        if fk_columns:
            refs = ", ".join(f"{t}.{c}" for t, c in fk_columns)
            message += f", and Django changes the referencing column{'s' if len(fk_columns) > 1 else ''} {refs} the same way"
            if revalidated:
                message += " and re-checks the foreign keys"
            message += ", all in one transaction"
        locked = " or ".join([table, *others])
        message += f": no query on {locked} runs until the last table has been copied."
        yield Hit(
            message,
            statement=anchor,
            operation=op,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=table,
            fix=tables.change_pk_type(op, table, column, new_type, old_type, fks, ctx.target.server_version),
            severity=None if verdict else Severity.WARNING,
        )

    @staticmethod
    def _foreign_key(statements: list[Statement], table: str, column: str) -> tables.ForeignKeyCopy:
        """The FK constraints on ``table`` that Django drops and re-adds around the change."""
        dropped: list[str] = []
        added: list[str] = []
        for stmt in statements:
            for t, cmd in alter_cmds(stmt.node, AT.AT_DropConstraint, AT.AT_AddConstraint):
                if t != table:
                    continue
                if cmd.subtype == AT.AT_DropConstraint and cmd.name:
                    dropped.append(str(cmd.name))
                con = cmd.def_
                if (
                    cmd.subtype == AT.AT_AddConstraint
                    and isinstance(con, ast.Constraint)
                    and con.contype == CON.CONSTR_FOREIGN
                    and [getattr(k, "sval", "") for k in con.fk_attrs or ()] == [column]
                ):
                    added.append(deparse(con))
        return tables.ForeignKeyCopy(table, column, tuple(dropped), tuple(added))
