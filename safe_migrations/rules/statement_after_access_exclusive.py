"""SM116 statement-after-access-exclusive."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import recipes, tables
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import AT, alter_cmds, concurrent_index_sql
from ._constraints import dropped_indexes, index_table
from ._tables import describe, is_new, is_pk_type_change, long_work, new_locks
from .base import Hit, Rule


class StatementAfterAccessExclusive(Rule):
    """A slow statement, or a new lock wait, while the transaction still holds ACCESS EXCLUSIVE.

    ## What it does
    Follows each transaction of the migration (the whole migration when it is
    atomic) and flags a statement that runs while an earlier statement holds
    ACCESS EXCLUSIVE on a pre-existing table, when that statement does not take
    ACCESS EXCLUSIVE on that table itself:
    - as an error when it works for a time that grows with table size: an index
      build (Django runs the `CREATE INDEX` of `AddField(db_index=True)`,
      `unique=True` or a `ForeignKey` at the end of the migration, after the
      `ADD COLUMN`), Django's `UPDATE` of `AlterField` to NOT NULL with a default
      (after its `SET DEFAULT`), a validation scan, a rewrite or a data change;
    - as a warning when it is quick but belongs to another operation and must
      first get a lock that ordinary writes conflict with on another table (for
      example two `AlterField` on two tables in one migration): while it waits
      in that table's lock queue, the first table is blocked.
    Catalogue-only follow-ups (Django's `DROP DEFAULT` after `ADD COLUMN`,
    `SET CONSTRAINTS`), UPDATE/DELETE bounded by key or by a closed range, and
    objects created earlier in the migration are not reported. `VALIDATE CONSTRAINT` of a
    constraint added NOT VALID in the same transaction is left to
    not-valid-and-validate-in-one-transaction, and the foreign key columns of a
    primary key type change to change-pk-type.

    ## Why is this bad?
    PostgreSQL releases locks only at COMMIT. An instant `ALTER TABLE` that took
    ACCESS EXCLUSIVE keeps it for the rest of the transaction, so a later index
    build or UPDATE turns into a full outage of the table (reads included) for
    its whole duration (measured: ACCESS EXCLUSIVE held through a 593 ms UPDATE
    of 200,000 rows).

    ## Example
    ```python
    migrations.AddField("customer", "email", models.CharField(max_length=200, null=True, db_index=True)),
    ```

    ## Use instead
    Add the column in one migration and build the index in another, concurrently:
    ```python
    # migration 1 (atomic)
    migrations.AddField("customer", "email", models.CharField(max_length=200, null=True)),
    # migration 2 (atomic = False)
    AddIndexConcurrently("customer", models.Index(fields=["email"], name="customer_email_idx")),
    ```
    In general: one locking DDL per atomic migration on a busy table, index
    builds in `atomic = False` migrations, data changes in their own batched
    migrations.
    """

    code = "SM116"
    name = "statement-after-access-exclusive"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        held = ctx.held.get(stmt.index, {})
        own_ael = {_table_of(t.table, stmt, ctx) for t in stmt.locks if t.lock is Lock.ACCESS_EXCLUSIVE}
        holders: dict[str, Statement] = {}
        for name, (lock, holder) in sorted(held.items()):
            table = _table_of(name, holder, ctx)
            if (
                lock.lock is Lock.ACCESS_EXCLUSIVE
                and table not in own_ael
                and not is_new(ctx, name, stmt)
                and not (table is not None and is_new(ctx, table, stmt))
                and not self._same_pk_change(holder, stmt)
            ):
                label = table if table is not None else f"the table of index {name}"
                holders.setdefault(label, holder)
        if not holders or self._validate_of_not_valid(stmt, ctx):
            return
        blocked = ", ".join(sorted(holders))
        first_label = min(holders)
        first_holder = holders[first_label]
        first_table = first_label if not first_label.startswith("the table of index ") else None
        takers = list(dict.fromkeys(holders[label].index for label in sorted(holders)))
        since = " and ".join(describe(ctx.statements[i]) for i in takers)
        work = long_work(stmt, ctx)
        if work is not None:
            message = (
                f"{describe(stmt)} {work} while the transaction still holds ACCESS EXCLUSIVE on "
                f"{blocked}, taken by {since}: every query on {blocked}, reads included, waits until "
                "it ends."
            )
            severity = Severity.ERROR
        else:
            # A quick statement only matters when it must queue for a new lock; statements of
            # one operation (one RunSQL, or Django's own sequence) are reported only when slow.
            waits: list[tuple[str, Lock]] = []
            for name, wanted_lock in new_locks(stmt, ctx):
                table = _table_of(name, stmt, ctx)
                label = table if table is not None else f"the table of index {name}"
                if label not in holders and label not in {w for w, _ in waits}:
                    waits.append((label, wanted_lock))
            ops = {h.operation.position for h in holders.values()}
            if not waits or ops == {stmt.operation.position}:
                return
            wanted = ", ".join(f"{lock.label} on {t}" for t, lock in waits)
            message = (
                f"{describe(stmt)} must get {wanted} while the transaction holds ACCESS EXCLUSIVE on "
                f"{blocked}, taken by {since}: if it queues behind a long transaction, every query on "
                f"{blocked} queues too."
            )
            severity = Severity.WARNING
        yield Hit(
            message,
            statement=stmt,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=first_table,
            fix=self._fix(stmt, first_holder, ctx),
            severity=severity,
        )

    @staticmethod
    def _same_pk_change(holder: Statement, stmt: Statement) -> bool:
        """Both belong to one primary key type change: change-pk-type reports it as a whole."""
        return holder.operation.position == stmt.operation.position and is_pk_type_change(stmt.operation)

    @staticmethod
    def _validate_of_not_valid(stmt: Statement, ctx: MigrationContext) -> bool:
        """VALIDATE of a constraint added NOT VALID earlier in this transaction (SM107's)."""
        tx = ctx.transaction_of(stmt)
        for _, cmd in alter_cmds(stmt.node, AT.AT_ValidateConstraint):
            added = ctx.not_valid.get(str(cmd.name))
            if added is not None and added < stmt.index and ctx.transaction_of(ctx.statements[added]) == tx:
                return True
        return False

    @staticmethod
    def _fix(stmt: Statement, holder: Statement, ctx: MigrationContext) -> Fix:
        op = stmt.operation
        node = stmt.node
        if isinstance(node, ast.IndexStmt) and op.kind != "RunSQL":
            siblings = [
                s.node
                for s in ctx.statements_of(op)
                if isinstance(s.node, ast.IndexStmt) and not s.node.concurrent
            ]
            pairs = [concurrent_index_sql(n) for n in siblings]
            return recipes.index_concurrently(op, [p[0] for p in pairs], [p[1] for p in pairs])
        if isinstance(node, ast.UpdateStmt) and op.kind == "AlterField" and op.new_field is not None:
            table = relname(node.relation)
            column = op.new_field.column or op.new_field.name
            return recipes.set_not_null(
                op, table, column, ctx.target.server_version, ctx.target.django_version
            )
        data = isinstance(node, (ast.UpdateStmt, ast.DeleteStmt, ast.InsertStmt, ast.MergeStmt))
        if isinstance(node, ast.IndexStmt):
            return tables.split_transaction(
                holder.operation,
                op,
                holder.sql,
                concurrent_index_sql(node)[0],
                labels=(describe(holder), describe(stmt)),
                autocommit=True,
                data_change=False,
            )
        return tables.split_transaction(
            holder.operation,
            op,
            holder.sql,
            stmt.sql,
            labels=(describe(holder), describe(stmt)),
            autocommit=data,
            data_change=data,
        )


def _table_of(name: str, taker: Statement, ctx: MigrationContext) -> str | None:
    """The table a lock named ``name`` is on. locks_of names the index for DROP INDEX (it
    cannot know the table): resolve it from a CREATE INDEX earlier in the migration or the
    model of the operation that emitted the drop; None when neither knows it."""
    if name in dropped_indexes(taker.node):
        return index_table(ctx, taker, name)
    return name
