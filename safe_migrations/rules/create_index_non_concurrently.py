"""SM101 create-index-non-concurrently."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import recipes
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import concurrent_index_sql
from .add_unique_constraint import flagged_uniques, unique_index_fix
from .base import Hit, Rule


class CreateIndexNonConcurrently(Rule):
    """An index built without CONCURRENTLY on a table that already exists.

    ## What it does
    Flags `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on a table that was not
    created earlier in the same migration. Django emits it for `AddIndex`,
    `AddField`/`AlterField` with `db_index=True` or `unique=True` (plus the
    `_like` pattern index for `varchar`/`text` columns), a new `ForeignKey`, index
    `AlterIndexTogether`, and `UniqueConstraint` with a condition or expressions.

    ## Why is this bad?
    A plain `CREATE INDEX` holds a SHARE lock on the table for the whole build,
    which reads every row: every INSERT, UPDATE and DELETE waits until it ends
    (measured: 24 ms per 100,000 rows on a narrow table, far more on real ones).
    When an earlier statement of the same atomic migration took ACCESS EXCLUSIVE
    (Django runs index SQL at the end of the migration, after e.g. `ADD COLUMN`),
    reads are blocked for the build too.

    ## Example
    ```python
    operations = [
        migrations.AddIndex("order", models.Index(fields=["created"], name="order_created_idx")),
    ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddIndexConcurrently

    class Migration(migrations.Migration):
        atomic = False  # CONCURRENTLY cannot run inside a transaction
        operations = [
            AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx")),
        ]
    ```
    For `db_index=True` on a field, add the field with `db_index=False`, then run
    `CREATE INDEX CONCURRENTLY IF NOT EXISTS` through `SeparateDatabaseAndState` in
    an `atomic = False` migration. A failed concurrent build leaves an INVALID
    index to drop before retrying. On PostgreSQL 14.0 to 14.3 concurrent builds
    could corrupt indexes: upgrade to 14.4 or later first.
    """

    code = "SM101"
    name = "create-index-non-concurrently"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.IndexStmt) or node.concurrent:
            return
        table = relname(node.relation)
        if ctx.is_new_table(table, stmt):
            return
        held = ctx.lock_held_before(stmt, table)
        reads_blocked = held is not None and held[0].lock is Lock.ACCESS_EXCLUSIVE
        kind = "unique index" if node.unique else "index"
        message = (
            f"Building {kind} {node.idxname or ''} on existing table {table} without CONCURRENTLY "
            f"holds a SHARE lock for the whole build: INSERT, UPDATE and DELETE on {table} wait "
            "until every row has been read."
        )
        if reads_blocked and held is not None:
            message += (
                f" An earlier statement in this transaction already holds ACCESS EXCLUSIVE on "
                f"{table}, so reads are blocked for the build as well."
            )
        statements = ctx.statements_of(stmt.operation)
        unique = next((s for s in statements if any(flagged_uniques(s, ctx))), None)
        if unique is not None:
            # unique=True: Django adds a UNIQUE constraint next to its _like index; building
            # only the indexes concurrently would record unique=True in the state with no
            # unique index in the database. The add-unique-constraint recipe builds both
            # concurrently and attaches the unique index as that constraint.
            fix = unique_index_fix(unique, ctx, relname(unique.node.relation))
        else:
            siblings = [
                s.node for s in statements if isinstance(s.node, ast.IndexStmt) and not s.node.concurrent
            ]
            pairs = [concurrent_index_sql(n) for n in siblings or [node]]
            fix = recipes.index_concurrently(stmt.operation, [p[0] for p in pairs], [p[1] for p in pairs])
        yield Hit(
            message,
            statement=stmt,
            lock=(Lock.ACCESS_EXCLUSIVE if reads_blocked else Lock.SHARE).label,
            table=table,
            fix=fix,
        )
