"""SM407 identifier-too-long."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pglast import parser

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.postgres import relname
from ..parsing.statement import Statement
from .base import Hit, Rule

MAX_BYTES = 63  # NAMEDATALEN - 1


def long_identifiers(sql: str) -> Iterator[str]:
    """Identifiers longer than PostgreSQL keeps, read with PostgreSQL's own lexer.

    The parser has already truncated them in the syntax tree, so the tokens are
    the only place their full length survives.
    """
    try:
        tokens = parser.scan(sql)
    except Exception:  # noqa: BLE001 - unparsable-sql reports it
        return
    for token in tokens:
        if token.name != "IDENT":
            continue
        text = sql[token.start : token.end + 1]
        if text[:2].upper() == "U&":
            continue  # Unicode escapes: the length of the escaped form is not the name's
        name = text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()
        if len(name.encode("utf-8")) > MAX_BYTES:
            yield name


class IdentifierTooLong(Rule):
    """A table, column, index or constraint name longer than 63 bytes.

    ## What it does
    Reads every statement with PostgreSQL's lexer and flags identifiers longer
    than 63 bytes: a long `Meta.db_table`, `db_column`, index or constraint
    name, or a name in hand-written SQL. Each name is reported once per
    migration. Django shortens the names it generates itself (with a hash), so
    those never trigger it.

    ## Why is this bad?
    PostgreSQL keeps the first 63 bytes of a name and drops the rest with a
    mere NOTICE. The object exists under a different name than the one in the
    code: Django's migration state and schema introspection look it up by the
    full name and do not find it (a later `AlterField` or `RemoveConstraint`
    fails with "Found wrong number (0) of constraints"), and two long names
    that share their first 63 bytes collide.

    ## Example
    ```python
    migrations.CreateModel(
        "Order",
        [("id", models.BigAutoField(primary_key=True))],
        options={"db_table": "shop_orders_placed_through_the_partner_marketplace_integration_v2"},
    )
    ```

    ## Use instead
    ```python
    migrations.CreateModel(
        "Order",
        [("id", models.BigAutoField(primary_key=True))],
        options={"db_table": "shop_partner_orders_v2"},
    )
    ```
    """

    code = "SM407"
    name = "identifier-too-long"
    severity = Severity.INFO

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        seen: set[str] = set()
        for stmt in ctx.statements:
            for name in long_identifiers(stmt.sql):
                if name in seen:
                    continue
                seen.add(name)
                yield self._hit(stmt, name)

    @staticmethod
    def _hit(stmt: Statement, name: str) -> Hit:
        size = len(name.encode("utf-8"))
        kept = name.encode("utf-8")[:MAX_BYTES].decode("utf-8", "ignore")
        relation = getattr(stmt.node, "relation", None)
        table = relname(relation) if relation is not None else None
        return Hit(
            f"Identifier {name!r} is {size} bytes: PostgreSQL silently keeps only its first "
            f"{MAX_BYTES} ({kept!r}), so Django's state and introspection, which use the full "
            "name, no longer find the object, and long names sharing a prefix collide.",
            statement=stmt,
            table=table,
            fix=hygiene.shorter_name(stmt.operation, name),
        )
