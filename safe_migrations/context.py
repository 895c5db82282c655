"""Facts that span statements, computed once per migration for every rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast, enums

from .facts import CollectedMigration, OperationFacts
from .parsing.postgres import relname
from .parsing.statement import Statement, TableLock
from .timeouts import timeout_in_force


@dataclass(frozen=True)
class Target:
    """What the migrations will run against."""

    vendor: str = "postgresql"
    server_version: int = 14
    lock_timeout_configured: bool = False  # connection OPTIONS or a setting sets it
    statement_timeout_configured: bool = False  # likewise for statement_timeout
    session_utc: bool = True  # Django sets TimeZone=UTC on the connection when USE_TZ is on
    django_version: tuple[int, int] = (5, 2)


@dataclass
class MigrationContext:
    migration: CollectedMigration
    statements: list[Statement]
    target: Target
    created_tables: dict[str, int] = field(default_factory=dict)  # table -> statement index
    created_indexes: dict[str, int] = field(default_factory=dict)
    held: dict[int, dict[str, tuple[TableLock, Statement]]] = field(default_factory=dict)
    not_valid: dict[str, int] = field(default_factory=dict)  # constraint -> statement index

    @classmethod
    def build(
        cls, migration: CollectedMigration, statements: list[Statement], target: Target
    ) -> MigrationContext:
        ctx = cls(migration, statements, target)
        ctx._scan()
        return ctx

    @property
    def operations(self) -> tuple[OperationFacts, ...]:
        return self.migration.operations

    def statements_of(self, op: OperationFacts) -> list[Statement]:
        return [s for s in self.statements if s.operation.position == op.position]

    def transaction_of(self, stmt: Statement) -> int:
        """Statements sharing a number run in one transaction."""
        if self.migration.atomic:
            return 0
        if stmt.operation.atomic:
            return -1 - stmt.operation.position
        return 1 + stmt.index

    def is_new_table(self, table: str, before: Statement) -> bool:
        """Created earlier in this migration, so no other session can use it yet."""
        created = self.created_tables.get(table)
        return created is not None and created < before.index

    def is_new_index(self, index: str, before: Statement) -> bool:
        created = self.created_indexes.get(index)
        return created is not None and created < before.index

    def lock_held_before(
        self, stmt: Statement, table: str | None = None
    ) -> tuple[TableLock, Statement] | None:
        """The strongest lock already held when ``stmt`` starts (on ``table``, or on any
        pre-existing table), with the statement that took it."""
        held = self.held.get(stmt.index, {})
        if table is not None:
            return held.get(table)
        return max(held.values(), key=lambda pair: pair[0].lock, default=None)

    def not_null_proven(self, stmt: Statement, table: str, column: str) -> bool:
        """A CHECK (column IS NOT NULL) exists before ``stmt`` runs: declared on the model
        the operation changes or the model owning ``table``, or added and validated by SQL
        this run has seen. PostgreSQL 12+ then skips the SET NOT NULL scan."""
        model = stmt.operation.model_before
        if model is not None and any(col == column for _, col in model.not_null_checks):
            return True
        key = f"{table}.{column}"
        return key in stmt.proven_not_null or key in stmt.operation.state_not_null

    def lock_timeout_set(self, stmt: Statement) -> bool:
        """Is a non-zero lock_timeout in force when ``stmt`` starts (see timeouts.py)?"""
        return timeout_in_force(self, stmt, "lock_timeout", self.target.lock_timeout_configured)

    def statement_timeout_set(self, stmt: Statement) -> bool:
        return timeout_in_force(self, stmt, "statement_timeout", self.target.statement_timeout_configured)

    def _scan(self) -> None:
        strongest: dict[int, dict[str, tuple[TableLock, Statement]]] = {}
        for stmt in self.statements:
            node = stmt.node
            tx = self.transaction_of(stmt)
            if strongest.get(tx):
                self.held[stmt.index] = dict(strongest[tx])
            if isinstance(node, ast.CreateStmt):
                self.created_tables.setdefault(relname(node.relation), stmt.index)
            elif isinstance(node, ast.IndexStmt) and node.idxname:
                self.created_indexes.setdefault(node.idxname, stmt.index)
            elif isinstance(node, ast.AlterTableStmt):
                for cmd in node.cmds or ():
                    con = cmd.def_
                    if (
                        cmd.subtype == enums.AlterTableType.AT_AddConstraint
                        and isinstance(con, ast.Constraint)
                        and con.skip_validation
                        and con.conname
                    ):
                        self.not_valid[con.conname] = stmt.index
            for lock in stmt.locks:
                if self.is_new_table(lock.table, stmt):
                    continue
                tables = strongest.setdefault(tx, {})
                current = tables.get(lock.table)
                if current is None or lock.lock > current[0].lock:
                    tables[lock.table] = (lock, stmt)
