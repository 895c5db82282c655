"""SM104 add-unique-constraint."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..parsing.statement import Lock, Statement
from ._ast import CON, concurrent_index_sql
from ._constraints import add_column_without, added_constraints, constraint_name, names, unique_index_sql
from .base import Hit, Rule


class AddUniqueConstraint(Rule):
    """A UNIQUE constraint whose index is built under ACCESS EXCLUSIVE on an existing table.

    ## What it does
    Flags `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE (...)` (without
    `USING INDEX`) and `ADD COLUMN ... UNIQUE` on a table that existed before the
    migration. Django emits them for `AlterField(unique=True)`,
    `AddField(unique=True)` (also a new `OneToOneField`), `AlterUniqueTogether`
    and `AddConstraint(UniqueConstraint(fields=...))`. A `UniqueConstraint` with
    a condition, expressions or `include` becomes `CREATE UNIQUE INDEX`, which
    create-index-non-concurrently (SM101) reports.

    ## Why is this bad?
    PostgreSQL builds the unique index inside the `ALTER TABLE`, holding ACCESS
    EXCLUSIVE: no query reads or writes the table until every row is indexed
    (measured: 90 to 200 ms for 200,000 narrow rows; far longer on real tables).
    Existing duplicates make the migration fail in the middle of the deploy, and
    from then on old code that inserts a duplicate gets `IntegrityError`.

    ## Example
    ```python
    migrations.AddConstraint(
        "customer", models.UniqueConstraint(fields=["name", "code"], name="customer_name_code_uniq")
    ),
    ```

    ## Use instead
    ```python
    # migration 1, atomic = False: the index is built while writes go on
    migrations.RunSQL(
        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "customer_name_code_uniq" '
        'ON "shop_customer" ("name", "code")',
        reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "customer_name_code_uniq"',
    ),
    # migration 2 (atomic): attach the ready index, a catalogue change
    migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunSQL(
            'ALTER TABLE "shop_customer" ADD CONSTRAINT "customer_name_code_uniq" '
            'UNIQUE USING INDEX "customer_name_code_uniq"',
            reverse_sql='ALTER TABLE "shop_customer" DROP CONSTRAINT "customer_name_code_uniq"',
        )],
        state_operations=[migrations.AddConstraint(
            "customer", models.UniqueConstraint(fields=["name", "code"], name="customer_name_code_uniq"))],
    ),
    ```
    Remove duplicates first. If the concurrent build fails it leaves an INVALID
    index: drop it and retry. `UNIQUE NULLS NOT DISTINCT` needs PostgreSQL 15.
    """

    code = "SM104"
    name = "add-unique-constraint"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd, con, column, name in flagged_uniques(stmt, ctx):
            columns = ", ".join([column] if column else names(con.keys))
            if column is None:
                message = (
                    f"Adding UNIQUE constraint {name} on existing table {table} ({columns}) builds its "
                    f"index under ACCESS EXCLUSIVE: no query reads or writes {table} until every row is "
                    "indexed. Existing duplicates make the migration fail mid-deploy, and old code "
                    "inserting a duplicate starts getting IntegrityError."
                )
            else:
                message = (
                    f"Adding column {table}.{column} with UNIQUE builds a unique index over the whole "
                    f"table under ACCESS EXCLUSIVE: no query reads or writes {table} until every row is "
                    "indexed."
                )
                if _has_default(cmd):
                    message += (
                        " Every existing row receives the same DEFAULT, so the build fails on any "
                        "table with more than one row."
                    )
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=unique_index_fix(stmt, ctx, table),
            )


def unique_index_fix(stmt: Statement, ctx: MigrationContext, table: str) -> Fix:
    """The fix for a UNIQUE constraint added to an existing table: the unique index built
    concurrently, then attached (also what SM101 offers for unique=True)."""
    op = stmt.operation
    uniques: list[tuple[str, str, str, str]] = []
    indexes: list[tuple[str, str]] = []
    others: list[str] = []
    add_column: str | None = None
    same_default = False
    for sibling in ctx.statements_of(op):
        flagged = list(flagged_uniques(sibling, ctx))
        node = sibling.node
        for _, cmd, con, column, name in flagged:
            create, drop, attach = unique_index_sql(node.relation, con, column, name)
            uniques.append((name, create, drop, attach))
            if column is not None and add_column is None:
                add_column = add_column_without(node, cmd, con)
                same_default = _has_default(cmd)
        if flagged:
            continue
        if isinstance(node, ast.IndexStmt) and not node.concurrent:
            indexes.append(concurrent_index_sql(node))
        else:
            others.append(sibling.sql)
    field = op.new_field
    if op.kind == "AddField" and field is not None and "unique" in dict(field.kwargs_code):
        add_column = None  # AddField without unique=True does it
    return recipes.unique_using_index(
        op, table, uniques, indexes, others, add_column, same_default=same_default
    )


def flagged_uniques(
    stmt: Statement, ctx: MigrationContext
) -> Iterator[tuple[str, Any, Any, str | None, str]]:
    for table, cmd, con, column in added_constraints(stmt.node):
        if con.contype != CON.CONSTR_UNIQUE or con.indexname:
            continue  # USING INDEX attaches an index built beforehand: a catalogue change
        if ctx.is_new_table(table, stmt):
            continue
        yield table, cmd, con, column, constraint_name(table, con, column, "key")


def _has_default(cmd: Any) -> bool:
    """ADD COLUMN with a DEFAULT: every existing row gets the same value."""
    return any(c.contype == CON.CONSTR_DEFAULT for c in cmd.def_.constraints or ())
