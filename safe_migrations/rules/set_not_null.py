"""SM108 set-not-null."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import recipes
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds
from .base import Hit, Rule


class SetNotNull(Rule):
    """`ALTER COLUMN ... SET NOT NULL` on an existing table: a full scan under ACCESS EXCLUSIVE.

    ## What it does
    Flags `SET NOT NULL` on a table that existed before the migration. Django
    emits it for `AlterField` from `null=True` to `null=False`; when the new field
    has a default it first runs `SET DEFAULT`, a whole-table
    `UPDATE ... WHERE col IS NULL`, then `SET NOT NULL` and `DROP DEFAULT`, all in
    one transaction.

    ## Why is this bad?
    PostgreSQL reads the whole table to prove there is no NULL while holding
    ACCESS EXCLUSIVE: no read or write on the table runs until the scan ends (and
    with Django's inline UPDATE, until every NULL row was rewritten). Old code
    that still writes NULL fails as soon as the constraint exists.
    The scan is skipped on PostgreSQL 12+ when a validated
    `CHECK (col IS NOT NULL)` already exists (declared on the model, or added and
    validated by hand-written SQL earlier); this rule stays silent then.

    ## Example
    ```python
    migrations.AlterField("customer", "phone", models.CharField(max_length=20)),  # was null=True
    ```

    ## Use instead
    ```python
    # A: instant
    AddConstraintNotValid("customer", models.CheckConstraint(
        condition=models.Q(phone__isnull=False), name="customer_phone_notnull"))
    # B: separate migration, scan under SHARE UPDATE EXCLUSIVE (traffic goes on)
    ValidateConstraint("customer", "customer_phone_notnull")
    # C: PostgreSQL 12+: SET NOT NULL without a scan, state-only AlterField, drop the CHECK
    migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunSQL(
            'ALTER TABLE "shop_customer" ALTER COLUMN "phone" SET NOT NULL',
            'ALTER TABLE "shop_customer" ALTER COLUMN "phone" DROP NOT NULL')],
        state_operations=[migrations.AlterField("customer", "phone", models.CharField(max_length=20))],
    )
    ```
    PostgreSQL 18: `ADD CONSTRAINT ... NOT NULL col NOT VALID`, then `VALIDATE
    CONSTRAINT` (that syntax fails on older servers; this rule flags it there).
    PostgreSQL 11 and older scan even with the CHECK: keep the CHECK.
    """

    code = "SM108"
    name = "set-not-null"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        yield from self._not_null_constraint_before_18(stmt, ctx)
        for table, cmd in alter_cmds(stmt.node, AT.AT_SetNotNull):
            if ctx.is_new_table(table, stmt):
                continue
            column = cmd.name
            op = stmt.operation
            if ctx.not_null_proven(stmt, table, str(column)) and ctx.target.server_version >= 12:
                continue  # a validated CHECK (col IS NOT NULL) lets PostgreSQL skip the scan
            backfill = any(
                type(s.node).__name__ == "UpdateStmt" for s in ctx.statements_of(op) if s.index < stmt.index
            )
            message = (
                f"SET NOT NULL on {table}.{column} reads the whole table under ACCESS EXCLUSIVE: "
                f"every query on {table} waits until the scan ends, and old code that writes NULL "
                "starts failing."
            )
            if backfill:
                message += (
                    " Django also updates every NULL row first, in the same transaction, while the "
                    "lock is held."
                )
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.set_not_null(
                    op, table, column, ctx.target.server_version, ctx.target.django_version
                ),
            )

    @staticmethod
    def _not_null_constraint_before_18(stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        """`ADD CONSTRAINT ... NOT NULL col [NOT VALID]` is PostgreSQL 18 syntax."""
        version = ctx.target.server_version
        if version >= 18:
            return
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddConstraint):
            con = cmd.def_
            if getattr(con, "contype", None) != CON.CONSTR_NOTNULL:
                continue
            column = str(getattr((con.keys or [None])[0], "sval", "") or "")
            yield Hit(
                f"ADD CONSTRAINT ... NOT NULL {column} is PostgreSQL 18 syntax: on PostgreSQL {version} "
                "the statement fails and the deploy stops here.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.set_not_null(stmt.operation, table, column, version, ctx.target.django_version),
            )
