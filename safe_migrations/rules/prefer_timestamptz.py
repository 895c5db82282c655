"""SM404 prefer-timestamptz."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.statement import Statement
from ._hygiene import columns, with_type
from .base import Hit, Rule


class PreferTimestamptz(Rule):
    """A `timestamp without time zone` column.

    ## What it does
    Flags `timestamp` (without time zone) columns in `CREATE TABLE`,
    `ADD COLUMN` and `ALTER COLUMN ... TYPE`. Django's `DateTimeField` is
    already `timestamp with time zone` on PostgreSQL, so this comes from
    hand-written SQL or custom fields.

    ## Why is this bad?
    A `timestamp` stores wall-clock digits without an offset: the same instant
    is stored differently depending on the session time zone of whoever wrote
    it, and Django with `USE_TZ = True` gets naive datetimes back. Hours shift
    silently around daylight-saving changes and between servers.

    ## Example
    ```python
    migrations.RunSQL("ALTER TABLE shop_order ADD COLUMN shipped_at timestamp")
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_order ADD COLUMN shipped_at timestamptz",
        reverse_sql="ALTER TABLE shop_order DROP COLUMN shipped_at",
    )
    ```
    In a model: `DateTimeField`. Converting an existing column with `ALTER
    COLUMN ... TYPE timestamptz` only changes the catalogue on PostgreSQL 12+
    when the session time zone is UTC (Django's default with `USE_TZ = True`);
    otherwise it rewrites the table under ACCESS EXCLUSIVE.
    """

    code = "SM404"
    name = "prefer-timestamptz"
    severity = Severity.INFO

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for col in columns(stmt):
            if col.type != "timestamp":
                continue
            sql = with_type(stmt, col, ("pg_catalog", "timestamptz"), keep_mods=True)
            if ctx.target.server_version >= 12 and ctx.target.session_utc:
                convert = (
                    "Converting an existing timestamp column to timestamptz only changes the "
                    f"catalogue on PostgreSQL {ctx.target.server_version} with the session time "
                    "zone at UTC (Django's connection with USE_TZ = True)."
                )
            else:
                convert = (
                    "Converting an existing timestamp column to timestamptz rewrites the table "
                    "under ACCESS EXCLUSIVE here (it is catalogue-only on PostgreSQL 12+ with a UTC "
                    "session): add a new column and backfill it instead."
                )
            yield Hit(
                f"{col.table}.{col.name} is timestamp without time zone: it stores no offset, so "
                "the same instant is stored differently depending on the writer's session time zone, "
                "and Django with USE_TZ = True gets naive datetimes back.",
                statement=stmt,
                table=col.table,
                fix=hygiene.retyped_sql(
                    stmt.operation,
                    sql,
                    "Use timestamp with time zone",
                    ("Declare the column timestamptz (DateTimeField in a model).", convert),
                    None
                    if stmt.operation.kind == "RunSQL"
                    else f"models.DateTimeField()  # for {col.name}, instead of the custom field",
                ),
            )
