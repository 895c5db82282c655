"""SM118 missing-statement-timeout."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import tables
from ._tables import blocking_locks, describe, long_work
from .base import Hit, Rule


class MissingStatementTimeout(Rule):
    """A migration locks or rewrites an existing table with no statement_timeout.

    ## What it does
    Reports once per migration the first statement that takes a lock that
    ordinary writes conflict with (SHARE or stronger) on a table that existed
    before the migration, or changes its rows, when no `statement_timeout` is in
    force: none set earlier in the same transaction (`SET LOCAL`) or session
    (`SET`), and none on the connection. `SET LOCAL` in an `atomic = False`
    migration does not count, and `SET statement_timeout = 0` switches it off.

    ## Why is this bad?
    Without a bound, a statement that turns out slower than expected (a rewrite
    of a table that grew, a backfill that hits lock contention) keeps its locks
    for as long as it runs, and the deploy never finishes nor fails cleanly.
    A timeout turns a runaway migration into an error that rolls back.

    ## Example
    ```python
    operations = [
        migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
        migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
    ]
    ```

    ## Use instead
    ```python
    operations = [
        migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
        migrations.RunSQL("SET LOCAL statement_timeout = '1h'", migrations.RunSQL.noop),
        migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
    ]
    ```
    Pick a bound above the slowest statement you expect; concurrent index builds
    on big tables may need a longer one. In an `atomic = False` migration use
    session-level `SET`, or set it for the connection `migrate` uses:
    `OPTIONS = {"options": "-c statement_timeout=1h"}`.
    """

    code = "SM118"
    name = "missing-statement-timeout"
    severity = Severity.INFO

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        for stmt in ctx.statements:
            locks = blocking_locks(stmt, ctx)
            rows = long_work(stmt, ctx) in ("changes rows", "copies rows") and any(
                not ctx.is_new_table(t.table, stmt) for t in stmt.locks
            )
            if not (locks or rows) or ctx.statement_timeout_set(stmt):
                continue
            table, lock = locks[0] if locks else (stmt.locks[0].table, stmt.locks[0].lock)
            yield Hit(
                f"{describe(stmt)} runs on existing table {table} with no statement_timeout: if it is "
                f"slower than expected, it keeps {lock.label} on {table} for as long as it runs and the "
                "deploy neither finishes nor fails.",
                statement=stmt,
                lock=lock.label,
                table=table,
                fix=tables.statement_timeout(ctx.migration.atomic),
            )
            return
