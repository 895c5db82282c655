"""SM117 missing-lock-timeout."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import tables
from ..parsing.statement import Lock, Statement
from ._tables import blocking_locks, describe
from .base import Hit, Rule


class MissingLockTimeout(Rule):
    """A statement waits for a blocking table lock with no lock_timeout to bound the wait.

    ## What it does
    Reports once per migration the first statement that takes a lock that
    ordinary writes conflict with (SHARE or stronger: most `ALTER TABLE`,
    `CREATE INDEX`, `ADD FOREIGN KEY`, `DROP`, ...) on a table that existed
    before the migration, when no `lock_timeout` is in force: none set earlier
    in the same transaction (`SET LOCAL`) or session (`SET`), none on the
    connection (`OPTIONS`) and none declared in the `SAFE_MIGRATIONS` settings.
    `SET LOCAL` in an `atomic = False` migration does not count: outside a
    transaction block it does nothing. `SET lock_timeout = 0` switches the
    timeout off again.

    ## Why is this bad?
    Even an instant `ALTER TABLE` must wait until every transaction using the
    table has finished, and while it waits in the lock queue every new query
    on the table, plain SELECTs included, queues behind it. One long report
    query is enough to stall the whole application (measured: a primary key
    lookup blocked 3 s behind a metadata-only `ADD COLUMN`; with
    `lock_timeout = '500ms'` the ALTER gave up after 0.5 s and the lookup ran
    normally).

    ## Example
    ```python
    operations = [
        migrations.AddField("customer", "nickname", models.CharField(max_length=50, null=True)),
    ]
    ```

    ## Use instead
    ```python
    operations = [
        migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
        migrations.AddField("customer", "nickname", models.CharField(max_length=50, null=True)),
    ]
    ```
    In an `atomic = False` migration use `SET lock_timeout` (session level).
    Or set it once for the connection `migrate` uses,
    `OPTIONS = {"options": "-c lock_timeout=2s"}`, or on the database role, and
    retry `migrate` on `LockNotAvailable` (SQLSTATE 55P03): an atomic migration
    rolls back completely.
    """

    code = "SM117"
    name = "missing-lock-timeout"
    severity = Severity.WARNING

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        for stmt in ctx.statements:
            locks = blocking_locks(stmt, ctx)
            if not locks or ctx.lock_timeout_set(stmt):
                continue
            table, lock = locks[0]
            yield Hit(
                self._message(stmt, table, lock),
                statement=stmt,
                lock=lock.label,
                table=table,
                fix=tables.lock_timeout(ctx.migration.atomic),
            )
            return

    @staticmethod
    def _message(stmt: Statement, table: str, lock: Lock) -> str:
        blocked = "every query" if lock.blocks_reads else "every write"
        return (
            f"{describe(stmt)} waits for {lock.label} on {table} with no lock_timeout: if a long "
            f"transaction is using {table}, the statement waits for it without limit and {blocked} on "
            f"{table} queues behind it meanwhile."
        )
