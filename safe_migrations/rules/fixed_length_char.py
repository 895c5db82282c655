"""SM406 fixed-length-char."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.statement import Statement
from ._hygiene import columns, with_type
from .base import Hit, Rule


class FixedLengthChar(Rule):
    """A `char(n)` column, which pads every value with spaces.

    ## What it does
    Flags `char(n)`, `character(n)` and bare `char` columns in `CREATE TABLE`,
    `ADD COLUMN` and `ALTER COLUMN ... TYPE`. Django's `CharField` is
    `varchar`, so this comes from hand-written SQL or custom fields.

    ## Why is this bad?
    `char(n)` pads shorter values with spaces up to `n`: the application reads
    back `'ab   '`. Trailing spaces are ignored by `=` but count in `LIKE` and
    regular expressions, and they vanish when the value is cast to `text`, so
    the same data compares differently depending on the query. A bare `char`
    is `char(1)` and rejects longer values. It is not faster than `text` in
    PostgreSQL and takes more space.

    ## Example
    ```python
    migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN country char(2)")
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_customer ADD COLUMN country text",
        reverse_sql="ALTER TABLE shop_customer DROP COLUMN country",
    )
    ```
    Add `CHECK (char_length(country) = 2)` if the length is a rule. In a model:
    `CharField` or `TextField`.
    """

    code = "SM406"
    name = "fixed-length-char"
    severity = Severity.INFO

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for col in columns(stmt):
            if col.type != "bpchar":
                continue
            length = col.mods[0] if col.mods else 1
            sql = with_type(stmt, col, ("text",))
            yield Hit(
                f"{col.table}.{col.name} is char({length}): values are padded with spaces to "
                f"{length} characters; the padding is ignored by = but counts in LIKE and regular "
                "expressions and vanishes in text casts, so queries disagree, and it is no faster "
                "than text.",
                statement=stmt,
                table=col.table,
                fix=hygiene.retyped_sql(
                    stmt.operation,
                    sql,
                    "Use text (or varchar)",
                    (
                        "Declare the column text (TextField or CharField in a model).",
                        f"Add CHECK (char_length({col.name}) = {length}) if a fixed length is a rule.",
                    ),
                    None
                    if stmt.operation.kind == "RunSQL"
                    else f"models.CharField(max_length={length})  # for {col.name}, instead of the custom field",
                ),
            )
