"""SM114 vacuum-full."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import tables
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ..timeouts import in_transaction_block
from .base import Hit, Rule


def _full(node: Any) -> bool:
    """VACUUM FULL, VACUUM (FULL), VACUUM (FULL true); not VACUUM (FULL false)."""
    for opt in node.options or ():
        if getattr(opt, "defname", "") != "full":
            continue
        arg = getattr(opt, "arg", None)
        if arg is None:
            return True
        value = getattr(arg, "boolval", None)
        if value is None:
            value = getattr(arg, "ival", None)
        if value is None:
            value = str(getattr(arg, "sval", "true")).lower() not in ("false", "off", "0", "no")
        return bool(value)
    return False


class VacuumFull(Rule):
    """`VACUUM FULL` or `CLUSTER` in a migration: the table is rewritten under ACCESS EXCLUSIVE.

    ## What it does
    Flags `VACUUM FULL` and `CLUSTER` run through `migrations.RunSQL` on tables
    that existed before the migration (or on the whole database, when no table
    is named).

    ## Why is this bad?
    Both write a complete new copy of the table and rebuild every index while
    holding ACCESS EXCLUSIVE: no query, not even a SELECT, runs on the table
    until the copy ends (measured: 206 ms for 200,000 narrow rows; minutes to
    hours on real tables). `VACUUM` and `CLUSTER` without a table name cannot run
    inside a transaction block, so in an atomic migration the deploy fails at
    that statement.

    ## Example
    ```python
    migrations.RunSQL('VACUUM FULL "shop_order"', migrations.RunSQL.noop),
    ```

    ## Use instead
    A rewrite has no online form inside a deploy. To make dead space reusable,
    a plain `VACUUM` is enough; it runs under SHARE UPDATE EXCLUSIVE, so reads
    and writes go on:
    ```python
    class Migration(migrations.Migration):
        atomic = False  # VACUUM cannot run in a transaction block
        operations = [
            migrations.RunSQL('VACUUM (ANALYZE) "shop_order"', migrations.RunSQL.noop),
        ]
    ```
    To shrink or reorder the table, run `pg_repack` (or `pg_squeeze`) outside
    the deploy: it rebuilds online and locks only for the final swap.
    PostgreSQL 19 brings `REPACK (CONCURRENTLY)` for the same job.
    """

    code = "SM114"
    name = "vacuum-full"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd and _full(node):
            names = [relname(r.relation) for r in node.rels or () if getattr(r, "relation", None)]
            what, cluster = "VACUUM FULL", False
            never_in_tx = True  # PostgreSQL docs: VACUUM cannot be executed inside a transaction block
        elif isinstance(node, ast.ClusterStmt):
            names = [relname(node.relation)] if node.relation else []
            what, cluster = "CLUSTER", True
            never_in_tx = not names  # CLUSTER without a table name cannot run in a transaction block
        else:
            return
        existing = [t for t in names if not ctx.is_new_table(t, stmt)]
        if names and not existing:
            return
        if existing:
            target = ", ".join(existing)
        else:
            target = "every previously clustered table" if cluster else "every table in the database"
        verb = "in index order " if cluster else ""
        message = (
            f"{what} rewrites {target} {verb}and rebuilds all indexes under ACCESS EXCLUSIVE: no "
            "query, not even a SELECT, runs on a table until its copy ends."
        )
        if never_in_tx and in_transaction_block(ctx, stmt):
            message += (
                f" {what} cannot run inside a transaction block either, so this atomic migration fails here."
            )
        yield Hit(
            message,
            statement=stmt,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=existing[0] if existing else None,
            fix=tables.vacuum_full(existing, cluster, ctx.target.server_version),
        )
