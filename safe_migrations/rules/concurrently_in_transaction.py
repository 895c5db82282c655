"""SM103 concurrently-in-transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import clone as _clone
from ._ast import deparse
from ._constraints import batch_mates, dropped_indexes, index_table, is_concurrent, transaction_reason
from .base import Hit, Rule


class ConcurrentlyInTransaction(Rule):
    """A CONCURRENTLY statement that will run inside a transaction, where PostgreSQL refuses it.

    ## What it does
    Flags `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`,
    `REINDEX ... CONCURRENTLY` and `DETACH PARTITION ... CONCURRENTLY` when they
    would run inside a transaction block:
    - in an atomic migration (the default): `AddIndexConcurrently` or
      `RemoveIndexConcurrently` without `atomic = False`, or a `RunSQL` using
      CONCURRENTLY;
    - in an `atomic = False` migration, when one `RunSQL` string holds several
      statements. Django's PostgreSQL backend sends such a string in a single
      call, and PostgreSQL runs a multi-statement string as one implicit
      transaction.

    ## Why is this bad?
    The statement never runs. Django refuses `AddIndexConcurrently` and
    `RemoveIndexConcurrently` in an atomic migration (`NotSupportedError`), and
    PostgreSQL rejects the others with "cannot run inside a transaction block".
    The deploy stops at this migration; in an `atomic = False` migration the
    statements before it stay applied, so it stops half-way.

    ## Example
    ```python
    class Migration(migrations.Migration):
        operations = [
            migrations.RunSQL(
                'CREATE INDEX CONCURRENTLY "order_created_idx" ON "shop_order" ("created")',
                reverse_sql='DROP INDEX CONCURRENTLY "order_created_idx"',
            ),
        ]
    ```

    ## Use instead
    ```python
    class Migration(migrations.Migration):
        atomic = False  # each statement runs on its own, in autocommit
        operations = [
            migrations.RunSQL(
                'CREATE INDEX CONCURRENTLY IF NOT EXISTS "order_created_idx" ON "shop_order" ("created")',
                reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "order_created_idx"',
            ),
        ]
    ```
    Keep one concurrent operation per `atomic = False` migration, or pass RunSQL
    a list (Django executes each item separately). A failed concurrent build
    leaves an INVALID index behind: drop it before retrying.
    """

    code = "SM103"
    name = "concurrently-in-transaction"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not is_concurrent(node):
            return
        reason = transaction_reason(ctx, stmt)
        if reason is None:
            return
        op = stmt.operation
        what = _describe(node)
        if reason == "atomic-migration" and op.kind in ("AddIndexConcurrently", "RemoveIndexConcurrently"):
            message = (
                f"{op.kind} in an atomic migration: Django raises NotSupportedError instead of running "
                f"{what} inside the migration's transaction, so the migration fails and the deploy stops."
            )
        elif reason == "batch":
            mates = batch_mates(ctx, stmt)
            others = len(mates) - 1
            message = (
                f"{what} is sent to PostgreSQL in one string with {others} other statement"
                f"{'s' if others > 1 else ''}; PostgreSQL runs such a string as one implicit transaction "
                "and rejects it ('cannot run inside a transaction block'), so the deploy stops here"
            )
            if mates[0].index > 0:
                message += ", with the earlier statements of this atomic = False migration already applied"
            message += "."
        else:
            where = (
                "the migration's transaction"
                if reason == "atomic-migration"
                else "the operation's transaction"
            )
            message = (
                f"{what} would run inside {where}: PostgreSQL rejects it ('cannot run inside a "
                "transaction block'), the migration fails and the deploy stops."
            )
        yield Hit(
            message,
            statement=stmt,
            lock=(stmt.strongest.lock if stmt.strongest else Lock.SHARE_UPDATE_EXCLUSIVE).label,
            table=_table(node, stmt, ctx),
            fix=self._fix(stmt, ctx, reason),
        )

    @staticmethod
    def _fix(stmt: Statement, ctx: MigrationContext, reason: str) -> Fix:
        op = stmt.operation
        statements = [_robust(s) for s in ctx.statements_of(op)]
        concurrent = [s.sql for s in ctx.statements_of(op) if is_concurrent(s.node)]
        wrapper = None
        if op.database_only:
            wrapper = next((o for o in ctx.operations if o.index == op.index and not o.sub_path), None)
        return recipes.concurrently_outside_transaction(op, reason, statements, concurrent, wrapper)


def _describe(node: Any) -> str:
    if isinstance(node, ast.IndexStmt):
        return f"CREATE {'UNIQUE ' if node.unique else ''}INDEX CONCURRENTLY {node.idxname or ''}".rstrip()
    if isinstance(node, ast.DropStmt):
        return f"DROP INDEX CONCURRENTLY {', '.join(dropped_indexes(node))}"
    if isinstance(node, ast.ReindexStmt):
        return "REINDEX ... CONCURRENTLY"
    return "DETACH PARTITION ... CONCURRENTLY"


def _table(node: Any, stmt: Statement, ctx: MigrationContext) -> str | None:
    if isinstance(node, (ast.IndexStmt, ast.AlterTableStmt)):
        return relname(node.relation)
    if isinstance(node, ast.DropStmt):
        index = dropped_indexes(node)[0]
        return index_table(ctx, stmt, index) or index
    if isinstance(node, ast.ReindexStmt):
        return relname(node.relation) if node.relation is not None else node.name
    return None


def _robust(stmt: Statement) -> str:
    """The statement as it should be retried: IF NOT EXISTS / IF EXISTS on concurrent index DDL."""
    node = stmt.node
    if isinstance(node, ast.IndexStmt) and node.concurrent and node.idxname and not node.if_not_exists:
        index = _clone(node)
        index.if_not_exists = True
        return deparse(index)
    if isinstance(node, ast.DropStmt) and dropped_indexes(node) and node.concurrent and not node.missing_ok:
        drop = _clone(node)
        drop.missing_ok = True
        return deparse(drop)
    return stmt.sql
