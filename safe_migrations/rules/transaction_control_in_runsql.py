"""SM306 transaction-control-in-runsql."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast
from pglast.enums import TransactionStmtKind as TK

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Fix, Severity
from ..fixes import data
from ..parsing.statement import Statement
from .base import Hit, Rule

_IN_ATOMIC: dict[Any, str] = {
    TK.TRANS_STMT_BEGIN: "BEGIN inside the migration's transaction is ignored (PostgreSQL only warns "
    "'there is already a transaction in progress'), and the COMMIT that goes with it ends Django's "
    "transaction early",
    TK.TRANS_STMT_START: "START TRANSACTION inside the migration's transaction is ignored, and the "
    "COMMIT that goes with it ends Django's transaction early",
    TK.TRANS_STMT_COMMIT: "COMMIT ends the transaction Django opened for the migration: what ran "
    "before it stays even if a later step fails, the rest runs without a transaction, and Django's "
    "own COMMIT finds none",
    TK.TRANS_STMT_ROLLBACK: "ROLLBACK silently undoes everything the migration did before it, while "
    "the rest runs without a transaction and Django still records the migration as applied",
    TK.TRANS_STMT_SAVEPOINT: "SAVEPOINT inside the migration's transaction bypasses Django's own "
    "savepoint handling: a ROLLBACK TO discards part of the migration while Django records all of "
    "it as applied",
    TK.TRANS_STMT_RELEASE: "RELEASE SAVEPOINT inside the migration's transaction interferes with "
    "Django's savepoint handling (releasing one of Django's savepoints breaks its atomic blocks)",
    TK.TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO SAVEPOINT silently discards part of the migration while "
    "Django records all of it as applied",
}
_PREPARED = (TK.TRANS_STMT_PREPARE, TK.TRANS_STMT_COMMIT_PREPARED, TK.TRANS_STMT_ROLLBACK_PREPARED)
_OPENS = (TK.TRANS_STMT_BEGIN, TK.TRANS_STMT_START)
_CLOSES = (TK.TRANS_STMT_COMMIT, TK.TRANS_STMT_ROLLBACK)
_SAVEPOINTS = (TK.TRANS_STMT_SAVEPOINT, TK.TRANS_STMT_RELEASE, TK.TRANS_STMT_ROLLBACK_TO)


class TransactionControlInRunSql(Rule):
    """BEGIN, COMMIT, ROLLBACK, SAVEPOINT or SET TRANSACTION written into RunSQL.

    ## What it does
    Flags transaction commands in hand-written SQL. In an atomic migration
    (the default) every `BEGIN`/`START TRANSACTION`, `COMMIT`/`END`,
    `ROLLBACK`, `SAVEPOINT`, `RELEASE`, `ROLLBACK TO` and prepared-transaction
    command, and a `SET TRANSACTION` that is not the transaction's first
    statement. In an `atomic = False` migration (each statement commits on its
    own) only the broken forms: a `BEGIN` never committed in the same RunSQL,
    savepoints or `SET TRANSACTION` outside a `BEGIN`, prepared transactions.

    ## Why is this bad?
    Django wraps an atomic migration in one transaction and records it as
    applied inside that transaction. A `COMMIT` in the SQL ends it early: a
    later failure no longer rolls the migration back, so the deploy stops
    half-applied. A `ROLLBACK` silently undoes the work before it while Django
    records the migration as done. A `BEGIN` left open in a non-atomic migration
    swallows everything after it, Django's bookkeeping included, and the
    server rolls it all back when the connection closes. `PREPARE TRANSACTION`
    leaves locks held until someone resolves it by hand.

    ## Example
    ```python
    migrations.RunSQL("BEGIN; UPDATE shop_order SET note = ''; COMMIT;")
    ```

    ## Use instead
    ```python
    migrations.RunSQL("UPDATE shop_order SET note = '' WHERE note IS NULL", migrations.RunSQL.noop)
    ```
    Django opens and commits the transaction. Statements that must commit
    separately belong in separate migrations (or in an `atomic = False`
    migration, one statement per RunSQL).
    """

    code = "SM306"
    name = "transaction-control-in-runsql"
    severity = Severity.ERROR
    vendors = frozenset({"postgresql"})

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if op.kind != "RunSQL":
            return
        statements = [s for s in ctx.statements_of(op) if s.node is not None]
        if not any(_is_control(s) for s in statements):
            return
        fix = _fix(op, statements)
        if ctx.migration.atomic:
            for stmt in statements:
                reason = self._in_atomic(stmt, ctx)
                if reason:
                    yield Hit(reason + ".", statement=stmt, fix=fix)
            return
        opened: Statement | None = None
        since_open = 0
        for stmt in statements:
            node = stmt.node
            reason = None
            if isinstance(node, ast.TransactionStmt):
                if node.kind in _PREPARED:
                    reason = _prepared(node)
                elif node.kind in _OPENS:
                    if opened is not None:
                        reason = "A second BEGIN inside an open transaction is ignored"
                    opened, since_open = stmt, 0
                    if reason:
                        yield Hit(reason + ".", statement=stmt, fix=fix)
                    continue
                elif node.kind in _CLOSES:
                    opened = None
                elif node.kind in _SAVEPOINTS and opened is None:
                    reason = (
                        f"{_verb(node)} outside a transaction block fails ('can only be used in "
                        "transaction blocks'): in an atomic = False migration each statement "
                        "commits on its own"
                    )
            elif _is_set_transaction(stmt):
                if opened is None:
                    reason = (
                        "SET TRANSACTION outside a transaction block has no effect (PostgreSQL only "
                        "warns): each statement of an atomic = False migration is its own transaction"
                    )
                elif since_open:
                    reason = "SET TRANSACTION after the transaction's first query fails"
            if reason:
                yield Hit(reason + ".", statement=stmt, fix=fix)
            since_open += 1
        if opened is not None:
            yield Hit(
                "BEGIN is never committed in this RunSQL: every later statement, Django's record "
                "of the applied migration included, runs inside that transaction, and the server "
                "rolls it all back when the connection closes.",
                statement=opened,
                fix=fix,
            )

    @staticmethod
    def _in_atomic(stmt: Statement, ctx: MigrationContext) -> str | None:
        node = stmt.node
        if isinstance(node, ast.TransactionStmt):
            if node.kind in _PREPARED:
                return _prepared(node)
            return _IN_ATOMIC.get(node.kind)
        if _is_set_transaction(stmt):
            tx = ctx.transaction_of(stmt)
            if any(ctx.transaction_of(s) == tx for s in ctx.statements[: stmt.index]):
                return (
                    "SET TRANSACTION after the transaction's first query fails ('must be called "
                    "before any query'), and the migration stops there"
                )
        return None


def _is_set_transaction(stmt: Statement) -> bool:
    node = stmt.node
    return isinstance(node, ast.VariableSetStmt) and (node.name or "").upper() == "TRANSACTION"


def _is_control(stmt: Statement) -> bool:
    return isinstance(stmt.node, ast.TransactionStmt) or _is_set_transaction(stmt)


def _verb(node: ast.TransactionStmt) -> str:
    names: dict[Any, str] = {
        TK.TRANS_STMT_SAVEPOINT: "SAVEPOINT",
        TK.TRANS_STMT_RELEASE: "RELEASE SAVEPOINT",
        TK.TRANS_STMT_ROLLBACK_TO: "ROLLBACK TO SAVEPOINT",
    }
    return names.get(node.kind, "This command")


def _prepared(node: ast.TransactionStmt) -> str:
    if node.kind == TK.TRANS_STMT_PREPARE:
        return (
            "PREPARE TRANSACTION turns the migration's work into a prepared transaction that keeps "
            "its locks until someone runs COMMIT PREPARED by hand"
        )
    return "COMMIT/ROLLBACK PREPARED resolves another transaction from inside a migration"


def _fix(op: OperationFacts, statements: list[Statement]) -> Fix:
    """One migration per part the SQL tried to commit on its own."""
    segments: list[list[str]] = [[]]
    for stmt in statements:
        if isinstance(stmt.node, ast.TransactionStmt) and stmt.node.kind in _CLOSES:
            segments.append([])
        elif not _is_control(stmt):
            segments[-1].append(stmt.sql)
    return data.without_transaction_control(op, segments)
