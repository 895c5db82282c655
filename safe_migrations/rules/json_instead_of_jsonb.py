"""SM405 json-instead-of-jsonb."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.statement import Statement
from ._hygiene import columns, with_type
from .base import Hit, Rule


class JsonInsteadOfJsonb(Rule):
    """A `json` column instead of `jsonb`.

    ## What it does
    Flags `json` columns in `CREATE TABLE`, `ADD COLUMN` and `ALTER COLUMN ...
    TYPE`. Django's `JSONField` is `jsonb` on PostgreSQL, so this comes from
    hand-written SQL or third-party fields.

    ## Why is this bad?
    `json` has no equality operator: as soon as a table has such a column,
    `SELECT DISTINCT`, `UNION`, `GROUP BY` and comparisons of whole rows fail
    with "could not identify an equality operator for type json", and
    Django's `.distinct()` on the model breaks. It cannot be indexed with GIN,
    and every read parses the text again.

    ## Example
    ```python
    migrations.RunSQL("ALTER TABLE shop_order ADD COLUMN payload json")
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_order ADD COLUMN payload jsonb",
        reverse_sql="ALTER TABLE shop_order DROP COLUMN payload",
    )
    ```
    In a model: `models.JSONField()`. Changing an existing `json` column to
    `jsonb` rewrites the table: add a `jsonb` column and backfill it instead.
    """

    code = "SM405"
    name = "json-instead-of-jsonb"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for col in columns(stmt):
            if col.type != "json":
                continue
            sql = with_type(stmt, col, ("jsonb",))
            yield Hit(
                f"{col.table}.{col.name} is json, which has no equality operator: SELECT DISTINCT, "
                "UNION, GROUP BY and row comparisons on the table fail ('could not identify an "
                "equality operator for type json'), Django's .distinct() included.",
                statement=stmt,
                lock=stmt.strongest.lock.label if stmt.strongest else None,
                table=col.table,
                fix=hygiene.retyped_sql(
                    stmt.operation,
                    sql,
                    "Use jsonb",
                    (
                        "Declare the column jsonb (models.JSONField() in a model): it compares, "
                        "indexes (GIN) and reads faster.",
                        "For an existing json column, add a jsonb column and backfill it in batches: "
                        "ALTER COLUMN ... TYPE jsonb rewrites the table under ACCESS EXCLUSIVE.",
                    ),
                    None
                    if stmt.operation.kind == "RunSQL"
                    else f"models.JSONField()  # for {col.name}, instead of the json field",
                ),
            )
