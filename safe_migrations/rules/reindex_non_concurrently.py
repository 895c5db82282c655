"""SM115 reindex-non-concurrently."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast, enums
from pglast.stream import maybe_double_quote_name

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..fixes.recipes import migration
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import deparse
from ._constraints import index_table, reindex_concurrently, transaction_reason
from .base import Hit, Rule

KIND = enums.ReindexObjectType
_WORD = {
    KIND.REINDEX_OBJECT_INDEX: "INDEX",
    KIND.REINDEX_OBJECT_TABLE: "TABLE",
    KIND.REINDEX_OBJECT_SCHEMA: "SCHEMA",
    KIND.REINDEX_OBJECT_SYSTEM: "SYSTEM",
    KIND.REINDEX_OBJECT_DATABASE: "DATABASE",
}


class ReindexNonConcurrently(Rule):
    """REINDEX without CONCURRENTLY: writes blocked, and reads stall on the locked indexes.

    ## What it does
    Flags `REINDEX INDEX`, `REINDEX TABLE`, `REINDEX SCHEMA`, `REINDEX DATABASE`
    and `REINDEX SYSTEM` without `CONCURRENTLY`, usually in a `RunSQL`. Indexes
    and tables created earlier in the same migration are not flagged.

    On PostgreSQL 11 and older `REINDEX ... CONCURRENTLY` does not exist: the
    statement fails, and this rule says so.

    ## Why is this bad?
    A plain REINDEX holds SHARE on the table, so every INSERT, UPDATE and DELETE
    waits for the whole rebuild, and ACCESS EXCLUSIVE on each index it rebuilds.
    The query planner locks every index of a table when it plans a query on it,
    so most reads stall as well: in practice the table is unavailable until the
    rebuild ends. `REINDEX SCHEMA`/`DATABASE`/`SYSTEM` do this table after table
    and cannot run inside a transaction at all.

    ## Example
    ```python
    migrations.RunSQL('REINDEX TABLE "shop_order"', migrations.RunSQL.noop),
    ```

    ## Use instead
    ```python
    class Migration(migrations.Migration):
        atomic = False  # CONCURRENTLY cannot run inside a transaction
        operations = [
            migrations.RunSQL('REINDEX TABLE CONCURRENTLY "shop_order"', migrations.RunSQL.noop),
        ]
    ```
    `REINDEX ... CONCURRENTLY` needs PostgreSQL 12. On older servers build a copy
    with `CREATE INDEX CONCURRENTLY`, drop the old index with `DROP INDEX
    CONCURRENTLY` and rename the copy. Avoid concurrent rebuilds on PostgreSQL
    14.0 to 14.3, which could corrupt indexes (fixed in 14.4). `REINDEX SYSTEM`
    has no concurrent form: run it outside migrations.
    """

    code = "SM115"
    name = "reindex-non-concurrently"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.ReindexStmt):
            return
        if reindex_concurrently(node):
            if ctx.target.server_version < 12:
                target = relname(node.relation) if node.relation else str(node.name or "")
                yield Hit(
                    f"REINDEX ... CONCURRENTLY needs PostgreSQL 12: on PostgreSQL "
                    f"{ctx.target.server_version} the statement is a syntax error and the deploy stops here.",
                    statement=stmt,
                    lock=Lock.SHARE_UPDATE_EXCLUSIVE.label,
                    table=target or None,
                    fix=_rebuild_beside(target or "the_index"),
                )
            return
        word = _WORD.get(node.kind, "TABLE") if node.kind is not None else "TABLE"
        if node.kind == KIND.REINDEX_OBJECT_INDEX:
            target = relname(node.relation)
            if ctx.is_new_index(target.split(".")[-1], stmt):
                return
            table = index_table(ctx, stmt, target)
            subject = f"REINDEX INDEX {target} holds SHARE on {table or 'its table'} and ACCESS EXCLUSIVE on the index"
        elif node.kind == KIND.REINDEX_OBJECT_TABLE:
            target = table = relname(node.relation)
            subject = (
                f"REINDEX TABLE {target} holds SHARE on the table and ACCESS EXCLUSIVE on each of its indexes"
            )
        else:
            target = str(node.name or "the current database")
            table = None
            subject = (
                f"REINDEX {word} {target} rebuilds every index, table after table, holding SHARE on each "
                "table and ACCESS EXCLUSIVE on each index"
            )
        if table is not None and ctx.is_new_table(table, stmt):
            return
        message = (
            f"{subject} until the rebuild ends: every INSERT, UPDATE and DELETE waits, and since the "
            "planner locks all indexes of a table for any query, most reads stall too."
        )
        if node.kind not in (KIND.REINDEX_OBJECT_INDEX, KIND.REINDEX_OBJECT_TABLE) and transaction_reason(
            ctx, stmt
        ):
            message += f" PostgreSQL also refuses REINDEX {word} inside a transaction block."
        yield Hit(
            message,
            statement=stmt,
            lock=Lock.SHARE.label,
            table=table or target,
            fix=recipes.reindex_concurrently(
                stmt.operation,
                target,
                word.lower(),
                _concurrent_sql(node, word),
                ctx.target.server_version,
            ),
        )


def _concurrent_sql(node: Any, word: str) -> str | None:
    """``REINDEX [(options)] KIND CONCURRENTLY name``: the spelling PostgreSQL 12 and 13 accept too."""
    if node.kind == KIND.REINDEX_OBJECT_SYSTEM:
        return None
    options = [str(p.defname).upper() for p in node.params or () if p.defname != "concurrently"]
    head = f"REINDEX ({', '.join(options)}) " if options else "REINDEX "
    if node.relation is not None:
        name = deparse(node.relation)
    else:
        name = maybe_double_quote_name(node.name) if node.name else ""
    return f"{head}{word} CONCURRENTLY {name}".rstrip()


def _rebuild_beside(index: str) -> Fix:
    """Before PostgreSQL 12: build a copy concurrently, drop the old one, take its name."""
    new = f"{index.split('.')[-1]}_rebuilt"[:63]
    code = migration(
        "atomic = False: no transaction, each statement commits on its own",
        [
            "migrations.RunSQL(\n"
            f"    'CREATE INDEX CONCURRENTLY IF NOT EXISTS \"{new}\" ON ... (...)',  "
            "# the definition pg_indexes shows for the old index\n"
            f"    'DROP INDEX CONCURRENTLY IF EXISTS \"{new}\"',\n),",
            f"migrations.RunSQL('DROP INDEX CONCURRENTLY IF EXISTS \"{index}\"', migrations.RunSQL.noop),",
            f'migrations.RunSQL(\'ALTER INDEX "{new}" RENAME TO "{index.split(".")[-1]}"\', migrations.RunSQL.noop),',
        ],
        atomic=False,
    )
    return Fix(
        "Rebuild the index beside the old one (no REINDEX CONCURRENTLY before PostgreSQL 12)",
        (
            "In an atomic = False migration, create a copy of the index with CREATE INDEX CONCURRENTLY "
            "under a new name, using the old index's definition (pg_indexes.indexdef).",
            "Drop the old index with DROP INDEX CONCURRENTLY, then rename the copy to the old name.",
        ),
        code,
    )
