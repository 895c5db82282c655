"""SM105 add-foreign-key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import CON, concurrent_index_sql
from ._constraints import add_column_without, added_constraints, constraint_name, enforced, not_valid_sql
from .base import Hit, Rule

# A new column filled by a default or generation expression has its inline REFERENCES
# validated (transformAlterTableStmt keeps skipValidation only without raw_default).
_FILLED = (CON.CONSTR_DEFAULT, CON.CONSTR_GENERATED)


class AddForeignKey(Rule):
    """A foreign key added with validation: both tables lose their writes for the scan.

    ## What it does
    Flags `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` without `NOT VALID`,
    and `ADD COLUMN ... REFERENCES`, on a table that existed before the
    migration. Django emits them for `AddField(ForeignKey(...))`, `AlterField`
    that turns a column into a foreign key or sets `db_constraint=True`, and
    `AlterField` that changes a foreign key's target.
    It is an error on an existing column (and on a new column with a default,
    which PostgreSQL also validates), a warning for a new nullable column
    without default, which needs no scan.

    ## Why is this bad?
    The constraint takes SHARE ROW EXCLUSIVE on the table *and* on the table it
    references, then reads every row to check it: no INSERT, UPDATE or DELETE
    runs on either table until the scan ends, and the referenced table is
    usually the busiest one. A new nullable column skips the scan, but still
    takes ACCESS EXCLUSIVE on its table and SHARE ROW EXCLUSIVE on the other,
    which queue behind running transactions and last until an atomic migration
    commits, with Django's index build on the column still to come.

    ## Example
    ```python
    migrations.AddField(
        "order", "referrer",
        models.ForeignKey("shop.customer", models.SET_NULL, null=True, related_name="+"),
    ),
    ```

    ## Use instead
    ```python
    # 1 (atomic): the column alone
    migrations.AddField("order", "referrer", models.ForeignKey(
        "shop.customer", models.SET_NULL, null=True, related_name="+",
        db_constraint=False, db_index=False)),
    # 2 (atomic = False): the index, CREATE INDEX CONCURRENTLY through SeparateDatabaseAndState
    # 3 (atomic): the constraint NOT VALID, instant
    migrations.SeparateDatabaseAndState(
        database_operations=[migrations.RunSQL(
            'ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_referrer_fk" FOREIGN KEY ("referrer_id") '
            'REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID',
            reverse_sql='ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_referrer_fk"')],
        state_operations=[migrations.AlterField("order", "referrer", models.ForeignKey(
            "shop.customer", models.SET_NULL, null=True, related_name="+"))],
    ),
    # 4 (next migration): SHARE UPDATE EXCLUSIVE on shop_order, ROW SHARE on shop_customer
    migrations.RunSQL('ALTER TABLE "shop_order" VALIDATE CONSTRAINT "shop_order_referrer_fk"',
                      migrations.RunSQL.noop),
    ```
    Foreign keys take SHARE ROW EXCLUSIVE since PostgreSQL 9.5 (ACCESS
    EXCLUSIVE before); `NOT VALID` exists since 9.1.
    """

    code = "SM105"
    name = "add-foreign-key"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, cmd, con, column, name in _flagged(stmt, ctx):
            parent = relname(con.pktable)
            severity = None
            if column is None:
                held = ctx.lock_held_before(stmt, table)
                reads = held is not None and held[0].lock is Lock.ACCESS_EXCLUSIVE
                message = (
                    f"Adding foreign key {name} from {table} to {parent} checks every existing row while "
                    f"holding SHARE ROW EXCLUSIVE on both tables: no INSERT, UPDATE or DELETE on {table} "
                    f"or {parent} runs until the scan ends."
                )
                if reads:
                    message += (
                        f" An earlier statement of this transaction holds ACCESS EXCLUSIVE on {table}, "
                        "so its reads wait too."
                    )
                lock = Lock.ACCESS_EXCLUSIVE if reads else Lock.SHARE_ROW_EXCLUSIVE
            elif any(c.contype in _FILLED for c in cmd.def_.constraints or ()):
                message = (
                    f"Adding column {table}.{column} with a default and a foreign key to {parent}: "
                    f"PostgreSQL checks every row against {parent} while holding ACCESS EXCLUSIVE on "
                    f"{table} and SHARE ROW EXCLUSIVE on {parent}, so no query on {table} and no write on "
                    f"{parent} runs until the scan ends."
                )
                lock = Lock.ACCESS_EXCLUSIVE
            else:
                severity = Severity.WARNING
                message = (
                    f"Adding column {table}.{column} with a foreign key to {parent} needs no scan, but takes "
                    f"ACCESS EXCLUSIVE on {table} and SHARE ROW EXCLUSIVE on {parent}: both wait for "
                    f"running transactions while new queries on {table} and writes on {parent} queue "
                    "behind them"
                    + (", and they are held until the migration commits." if ctx.migration.atomic else ".")
                )
                lock = Lock.ACCESS_EXCLUSIVE
            yield Hit(
                message,
                statement=stmt,
                lock=lock.label,
                table=table,
                fix=self._fix(stmt, ctx, table, parent, name),
                severity=severity,
            )

    @staticmethod
    def _fix(stmt: Statement, ctx: MigrationContext, table: str, parent: str, name: str) -> Fix:
        op = stmt.operation
        not_valid = ""
        add_column: str | None = None
        indexes: list[tuple[str, str]] = []
        others: list[str] = []
        for sibling in ctx.statements_of(op):
            node = sibling.node
            flagged = [f for f in _flagged(sibling, ctx) if f[4] == name]
            for _, cmd, con, column, _ in flagged:
                not_valid = not_valid_sql(node.relation, con, column, name)
                if column is not None:
                    add_column = add_column_without(node, cmd, con)
            if flagged:
                continue
            if isinstance(node, ast.IndexStmt) and not node.concurrent:
                indexes.append(concurrent_index_sql(node))
            elif not _sets_immediate(node, name):
                others.append(sibling.sql)
        return recipes.foreign_key_not_valid(op, table, parent, name, not_valid, indexes, others, add_column)


def _flagged(stmt: Statement, ctx: MigrationContext) -> Iterator[tuple[str, Any, Any, str | None, str]]:
    for table, cmd, con, column in added_constraints(stmt.node):
        if con.contype != CON.CONSTR_FOREIGN or con.skip_validation or not enforced(con):
            continue  # NOT VALID (or PostgreSQL 18's NOT ENFORCED): nothing is scanned
        if ctx.is_new_table(table, stmt):
            continue
        yield table, cmd, con, column, constraint_name(table, con, column, "fkey")


def _sets_immediate(node: Any, name: str) -> bool:
    """Django's ``SET CONSTRAINTS <fk> IMMEDIATE`` after an inline REFERENCES: moot once NOT VALID."""
    if not isinstance(node, ast.ConstraintsSetStmt):
        return False
    return any(getattr(c, "relname", None) == name for c in node.constraints or ())
