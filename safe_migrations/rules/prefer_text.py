"""SM403 prefer-text."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.statement import Statement
from ._hygiene import columns, with_type
from .base import Hit, Rule


class PreferText(Rule):
    """A hand-written `varchar(n)` column, whose length limit is part of its type.

    ## What it does
    Flags `varchar(n)` / `character varying(n)` columns in hand-written SQL
    (`RunSQL`): `CREATE TABLE`, `ADD COLUMN` and `ALTER COLUMN ... TYPE`.

    It deliberately stays silent on the `varchar(n)` Django generates for
    `CharField(max_length=n)`: `max_length` is the model's declared contract
    (forms, admin and serializers validate it, and every backend but
    PostgreSQL needs it), and raising it later only changes the catalogue on
    PostgreSQL, which alter-column-type already recognises as safe. Flagging
    every CharField would bury the findings that matter.

    ## Why is this bad?
    In PostgreSQL `text`, `varchar` and `varchar(n)` are stored the same way;
    the limit only adds a check that lives in the column type. Changing it is
    an `ALTER COLUMN ... TYPE` under ACCESS EXCLUSIVE; lowering it rewrites the
    table and fails on longer values already stored.

    ## Example
    ```python
    migrations.RunSQL("ALTER TABLE shop_customer ADD COLUMN nickname varchar(50)")
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_customer ADD COLUMN nickname text",
        reverse_sql="ALTER TABLE shop_customer DROP COLUMN nickname",
    )
    ```
    If the limit matters, add it as a named `CHECK (char_length(nickname) <= 50)`
    constraint (`NOT VALID`, then `VALIDATE`), which can be changed without
    touching the column. In a model: `TextField`, or `CharField(max_length=None)`
    on PostgreSQL (Django 4.2+).
    """

    code = "SM403"
    name = "prefer-text"
    severity = Severity.INFO

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        if not stmt.user_sql:
            return  # Django's CharField: see the docstring
        for col in columns(stmt):
            if col.type != "varchar" or not col.mods:
                continue
            sql = with_type(stmt, col, ("text",))
            yield Hit(
                f"{col.table}.{col.name} is varchar({col.mods[0]}): the limit lives in the column "
                "type, so changing it means ALTER COLUMN ... TYPE under ACCESS EXCLUSIVE, and "
                "lowering it rewrites the table; PostgreSQL stores text the same way without it.",
                statement=stmt,
                table=col.table,
                fix=hygiene.retyped_sql(
                    stmt.operation,
                    sql,
                    "Use text, with a CHECK constraint if the length matters",
                    (
                        "Declare the column as text.",
                        f"If the limit matters, add CHECK (char_length({col.name}) <= {col.mods[0]}) "
                        "as a named constraint: NOT VALID first, then VALIDATE CONSTRAINT in another "
                        "migration; it can later be changed without touching the column.",
                    ),
                    None,
                ),
            )
