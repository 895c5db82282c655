"""SM102 drop-index-non-concurrently."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast, enums

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..parsing.statement import Lock, Statement
from ._ast import clone as _clone
from ._ast import deparse
from ._constraints import dropped_indexes, index_table
from .base import Hit, Rule


class DropIndexNonConcurrently(Rule):
    """An index dropped without CONCURRENTLY: ACCESS EXCLUSIVE on its table, queued behind readers.

    ## What it does
    Flags `DROP INDEX` without `CONCURRENTLY` on an index that existed before the
    migration. Django emits it for `RemoveIndex`, `AlterField` from
    `db_index=True` to `db_index=False` (the index and its `_like` twin),
    `RemoveConstraint` of a `UniqueConstraint` with a condition or expressions,
    and `AlterIndexTogether` removing an index. Indexes created earlier in the
    same migration, or on a table created there, are not flagged.

    ## Why is this bad?
    A plain `DROP INDEX` takes ACCESS EXCLUSIVE on the index's table. The drop
    itself is fast, but the lock request has to wait for every transaction that
    touched the table, and while it waits every new query on the table, reads
    included, queues behind it: one slow report or idle-in-transaction session
    turns a millisecond statement into an outage. In an atomic migration the lock
    is then held until the migration commits.

    ## Example
    ```python
    operations = [
        migrations.RemoveIndex("order", "order_created_idx"),
    ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import RemoveIndexConcurrently

    class Migration(migrations.Migration):
        atomic = False  # CONCURRENTLY cannot run inside a transaction
        operations = [
            RemoveIndexConcurrently("order", "order_created_idx"),
        ]
    ```
    For `db_index=False` on a field, wrap the `AlterField` in
    `SeparateDatabaseAndState` whose database side runs
    `DROP INDEX CONCURRENTLY IF EXISTS` for each index, in an `atomic = False`
    migration. `DROP INDEX CONCURRENTLY` exists since PostgreSQL 9.2; it drops
    one index per statement and does not accept `CASCADE`.
    """

    code = "SM102"
    name = "drop-index-non-concurrently"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.DropStmt) or node.concurrent:
            return
        for index in dropped_indexes(node):
            if ctx.is_new_index(index.split(".")[-1], stmt):
                continue
            table = index_table(ctx, stmt, index)
            if table is not None and ctx.is_new_table(table, stmt):
                continue
            on = f"table {table}" if table else f"the table of index {index}"
            message = (
                f"Dropping index {index} without CONCURRENTLY takes ACCESS EXCLUSIVE on {on}: the drop "
                "is quick, but while it waits for running transactions every query on the table, "
                "reads included, queues behind it"
            )
            message += ", and the lock is held until the migration commits." if ctx.migration.atomic else "."
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table or index,
                fix=self._fix(stmt, ctx),
            )

    @staticmethod
    def _fix(stmt: Statement, ctx: MigrationContext) -> Fix:
        op = stmt.operation
        statements: list[tuple[str, bool]] = []
        for sibling in ctx.statements_of(op):
            node = sibling.node
            if dropped_indexes(node) and not node.concurrent:
                for obj in node.objects:  # CONCURRENTLY drops one index per statement, no CASCADE
                    one = _clone(node)
                    one.objects = (obj,)
                    one.concurrent = True
                    one.missing_ok = True
                    one.behavior = enums.DropBehavior.DROP_RESTRICT
                    statements.append((deparse(one), True))
            else:
                statements.append((sibling.sql, False))
        return recipes.drop_index_concurrently(op, statements)
