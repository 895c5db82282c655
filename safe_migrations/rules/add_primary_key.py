"""SM112 add-primary-key."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import recipes, tables
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, deparse, has_constraint
from ._tables import is_identity, is_serial, type_name
from .base import Hit, Rule


class AddPrimaryKey(Rule):
    """A primary key or an auto-increment column added to a table that already has rows.

    ## What it does
    Flags, on a table that existed before the migration,
    `ALTER TABLE ... ADD [CONSTRAINT ...] PRIMARY KEY (...)` (Django emits it when
    `AlterField` makes a field `primary_key=True`), `ADD COLUMN ... PRIMARY KEY`,
    and `ADD COLUMN` of a `serial`/`bigserial` or `GENERATED ... AS IDENTITY`
    column (`AddField` of an `AutoField`/`BigAutoField`). Attaching an index
    built beforehand with `ADD CONSTRAINT ... PRIMARY KEY USING INDEX`, and
    `ALTER COLUMN ... ADD GENERATED ... AS IDENTITY` on an existing NOT NULL
    column, are catalogue changes and pass; `USING INDEX` is flagged when a
    key column of the index is nullable in the model state and neither a
    validated CHECK (column IS NOT NULL) nor an earlier SET NOT NULL of the
    migration makes it NOT NULL.

    ## Why is this bad?
    `ADD PRIMARY KEY` builds a unique index by reading the whole table, and first
    checks every row for NULLs when a key column is nullable, all under ACCESS
    EXCLUSIVE: no read or write on the table runs meanwhile. A new serial or
    identity column is worse: PostgreSQL writes a sequence value into every row,
    rewriting the table and all its indexes under the same lock. A duplicate or
    NULL key also makes the deploy fail halfway.

    ## Example
    ```python
    operations = [
        migrations.RemoveField("tag", "id"),
        migrations.AlterField("tag", "slug", models.CharField(max_length=50, primary_key=True)),
    ]
    ```

    ## Use instead
    Build the unique index concurrently, make sure its columns are NOT NULL,
    then swap the primary key in one catalogue-only statement (a model always
    has a primary key already: drop it in the same `ALTER TABLE`); record the
    change in the state only:
    ```python
    # migration 1 (atomic = False)
    migrations.RunSQL(
        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "tag_slug_pk" ON "shop_tag" ("slug")',
        reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "tag_slug_pk"',
    ),
    # migration 2 (atomic)
    migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunSQL(
            'ALTER TABLE "shop_tag" DROP CONSTRAINT "shop_tag_pkey", '
            'ADD CONSTRAINT "tag_slug_pk" PRIMARY KEY USING INDEX "tag_slug_pk"',
            reverse_sql='ALTER TABLE "shop_tag" DROP CONSTRAINT "tag_slug_pk", '
            'ADD CONSTRAINT "shop_tag_pkey" PRIMARY KEY ("id")',
        )],
        state_operations=[
            migrations.RemoveField("tag", "id"),
            migrations.AlterField("tag", "slug", models.CharField(max_length=50, primary_key=True)),
        ],
    ),
    ```
    `slug` is NOT NULL already here; a nullable key column must first get
    NOT NULL through a validated CHECK (see set-not-null), or `ADD CONSTRAINT
    ... USING INDEX` runs SET NOT NULL itself, with a full scan under ACCESS
    EXCLUSIVE. Foreign keys that reference the old key must be dropped first
    and re-created against the new one (NOT VALID, then VALIDATE). The `id`
    column stays in the table (its identity default fills it) until a later
    release drops it (see drop-column).
    For a counter column: add a nullable `bigint`, create a sequence owned by it
    and `SET DEFAULT nextval(...)` (catalogue changes only), number the existing
    rows in batches, then NOT NULL and the primary key as above.
    """

    code = "SM112"
    name = "add-primary-key"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        op = stmt.operation
        version = ctx.target.server_version
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddConstraint, AT.AT_AddColumn):
            if ctx.is_new_table(table, stmt):
                continue
            con = cmd.def_
            if cmd.subtype == AT.AT_AddConstraint:
                if not isinstance(con, ast.Constraint) or con.contype != CON.CONSTR_PRIMARY:
                    continue
                if con.indexname:
                    yield from self._using_index(stmt, ctx, table, str(con.indexname))
                    continue
                columns = [str(getattr(k, "sval", k)) for k in con.keys or ()]
                name = str(con.conname or f"{table}_pkey")
                nullable = self._nullable(ctx, stmt, columns)
                scan = " checks every row for NULLs and" if nullable or nullable is None else ""
                message = (
                    f"Adding primary key {name} to existing table {table}{scan} builds its unique "
                    f"index under ACCESS EXCLUSIVE: no query on {table} runs until every row has been "
                    "read, and a duplicate or NULL key makes the migration fail."
                )
                fix = tables.primary_key_using_index(op, table, columns, name, nullable, version)
                yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)
                continue
            if not isinstance(con, ast.ColumnDef):
                continue
            column = str(con.colname)
            counter = is_serial(con) or is_identity(con)
            primary = has_constraint(con, CON.CONSTR_PRIMARY)
            if not (counter or primary):
                continue
            if counter:
                kind = type_name(con) if is_serial(con) else "identity"
                message = (
                    f"Adding {kind} column {table}.{column} writes a sequence value into every "
                    f"existing row: PostgreSQL rewrites {table} and all its indexes under ACCESS "
                    f"EXCLUSIVE{', then builds the primary key index,' if primary else ''} and no query "
                    f"on {table} runs until it ends."
                )
                column_type = type_name(con) if is_serial(con) else deparse(con.typeName)
                fix = tables.counter_column(op, table, column, column_type, primary, version)
            else:
                message = (
                    f"Adding {table}.{column} as PRIMARY KEY builds a unique index over every existing "
                    f"row under ACCESS EXCLUSIVE: no query on {table} runs until it ends."
                )
                name = f"{table}_pkey"
                fix = tables.primary_key_using_index(op, table, [column], name, None, version)
            yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)

    def _using_index(self, stmt: Statement, ctx: MigrationContext, table: str, index: str) -> Iterable[Hit]:
        """PRIMARY KEY USING INDEX: catalogue-only, unless PostgreSQL must first run SET NOT
        NULL on a key column, scanning the whole table under ACCESS EXCLUSIVE (PostgreSQL docs,
        ALTER TABLE: ADD table_constraint_using_index)."""
        columns = ctx.migration.index_columns(stmt.operation.position).get(index)
        if not columns:
            return  # an index this run did not see built: its columns are unknown
        nullable = [c for c in columns if self._may_hold_nulls(ctx, stmt, table, c)]
        if not nullable:
            return
        message = (
            f"Attaching index {index} as primary key of existing table {table} runs SET NOT NULL "
            f"on {', '.join(nullable)}: PostgreSQL reads every row to check for NULLs under ACCESS "
            f"EXCLUSIVE, so no query on {table} runs until the scan ends, and a NULL makes the "
            "migration fail."
        )
        version = ctx.target.server_version
        fix = recipes.set_not_null(stmt.operation, table, nullable[0], version, ctx.target.django_version)
        yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=table, fix=fix)

    @staticmethod
    def _may_hold_nulls(ctx: MigrationContext, stmt: Statement, table: str, column: str) -> bool:
        """A key column the model state declares nullable, that no validated CHECK proves
        (PostgreSQL 12+ then skips the scan) and no earlier SET NOT NULL of the migration
        already made NOT NULL (that scan is set-not-null's)."""
        if f"{table}.{column}" not in stmt.operation.state_nullable:
            return False  # NOT NULL in the state, or a column only hand-written SQL knows
        if ctx.target.server_version >= 12 and ctx.not_null_proven(stmt, table, column):
            return False
        for earlier in ctx.statements[: stmt.index + 1]:
            for name, cmd in alter_cmds(earlier.node, AT.AT_SetNotNull):
                if name == table and cmd.name == column:
                    return False
        return True

    @staticmethod
    def _nullable(ctx: MigrationContext, stmt: Statement, columns: list[str]) -> list[str] | None:
        """Key columns still nullable when ``stmt`` runs; None when unknown (hand-written SQL)."""
        op = stmt.operation
        old, new = op.old_field, op.new_field
        if new is None or old is None or [new.column] != columns:
            return None
        if not old.null:
            return []
        for earlier in ctx.statements_of(op):
            if earlier.index < stmt.index:
                for _, cmd in alter_cmds(earlier.node, AT.AT_SetNotNull):
                    if cmd.name == new.column:
                        return []  # Django ran SET NOT NULL first (add-primary-key's scan is SM108's)
        return [str(new.column)]
