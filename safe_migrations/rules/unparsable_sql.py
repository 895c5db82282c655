"""SM000 unparsable-sql."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..parsing.statement import Statement
from .base import Hit, Rule


class UnparsableSql(Rule):
    """A SQL statement that PostgreSQL's parser rejects, so nothing checked it.

    ## What it does
    Reports every statement of a migration (usually hand-written `RunSQL`) that
    pglast, which embeds PostgreSQL's own parser, cannot parse.

    ## Why is this bad?
    A statement that cannot be parsed cannot be checked: any lock, rewrite or
    compatibility hazard in it goes unseen. If PostgreSQL cannot parse it either,
    the migration fails in the middle of the deploy.

    ## Example
    ```python
    migrations.RunSQL("ALTER TABLE shop_order ADD COLUM note text")
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_order ADD COLUMN note text",
        reverse_sql="ALTER TABLE shop_order DROP COLUMN note",
    )
    ```
    Statements in a dialect pglast does not know (a newer server's syntax) can be
    acknowledged with `-- safe_migrations: ignore SM000 <reason>` in the RunSQL.
    """

    code = "SM000"
    name = "unparsable-sql"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        if stmt.error is None:
            return
        yield Hit(
            f"PostgreSQL's parser rejects this statement ({stmt.error}); it was not checked for "
            "hazards, and the migration will fail here if the server rejects it too.",
            statement=stmt,
            fix=Fix(
                "Correct the SQL (or acknowledge it with a reasoned ignore comment)",
                ("Run the statement against a scratch database to see PostgreSQL's error.",),
            ),
        )
