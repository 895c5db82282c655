"""SM401 prefer-bigint."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ..parsing.statement import Statement
from ._hygiene import Column, columns, foreign_keys, with_identity, with_type
from .base import Hit, Rule

INTEGER_TYPES = frozenset({"int4", "int2", "serial", "serial4", "smallserial", "serial2"})
_LIMIT = {"int2": "32,767", "smallserial": "32,767", "serial2": "32,767"}


class PreferBigint(Rule):
    """An integer (not bigint) primary key, foreign key or id column.

    ## What it does
    Flags columns of type `integer`, `smallint`, `serial` or `smallserial`
    that the migration creates as a primary key (Django's `AutoField`,
    `SmallAutoField`, a hand-written `serial PRIMARY KEY`) or as a foreign key
    (a `ForeignKey` to such a key): a warning, unless that key belongs to a
    third-party or contrib app (`auth.User`, `ContentType`), which the project
    cannot widen. Other `integer`/`smallint`
    columns named `id` or `*_id` (ids copied from elsewhere) are reported as
    info. Counters, quantities and other plain integers are left alone.

    ## Why is this bad?
    `integer` stops at 2,147,483,647: when a busy table reaches it, inserts
    fail. Widening a key later is the most expensive change there is: `ALTER
    COLUMN ... TYPE bigint` rewrites the table and every index under ACCESS
    EXCLUSIVE, and the same for every table that references it (see
    change-pk-type). Choosing `bigint` when the table is created costs 4 bytes
    a row.

    ## Example
    ```python
    migrations.CreateModel("Event", [("id", models.AutoField(primary_key=True))])
    ```

    ## Use instead
    ```python
    migrations.CreateModel("Event", [("id", models.BigAutoField(primary_key=True))])
    ```
    New projects get `DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"`
    (Django 3.2+); set `default_auto_field` on an app's `AppConfig` only before
    it has tables, or makemigrations will alter every existing key.
    """

    code = "SM401"
    name = "prefer-bigint"
    severity = Severity.INFO

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        defined: dict[tuple[str, str], tuple[Column, Statement]] = {}
        for stmt in ctx.statements:
            for col in columns(stmt):
                defined.setdefault((col.table, col.name), (col, stmt))
        fks = {(fk.table, c): fk.parent for fk in foreign_keys(ctx.statements) for c in fk.columns}
        new_int_keys = {
            table for (table, _), (col, _) in defined.items() if col.primary and col.type in INTEGER_TYPES
        }
        for (table, name), (col, stmt) in defined.items():
            if col.type not in INTEGER_TYPES:
                continue
            op = stmt.operation
            field = op.new_field if col.kind == "type" else None
            parent = fks.get((table, name)) or col.references
            if field is not None and field.is_relation:
                parent = parent or field.related_table
            primary = col.primary or (field is not None and field.primary_key)
            limit = _LIMIT.get(col.type, "2,147,483,647")
            if primary:
                sql = None
                if op.kind == "RunSQL":
                    serial = "serial" in col.type
                    sql = with_identity(stmt, col) if serial else with_type(stmt, col, ("pg_catalog", "int8"))
                yield Hit(
                    f"Primary key {table}.{name} is {col.sql_type}: inserts fail once it passes "
                    f"{limit}, and widening it later rewrites {table} and every table that "
                    "references it under ACCESS EXCLUSIVE.",
                    statement=stmt,
                    table=table,
                    fix=hygiene.bigint_primary_key(op, table, name, sql),
                    severity=Severity.WARNING,
                )
            elif parent is not None:
                if parent in new_int_keys:
                    continue  # the parent's own key is reported; fixing it fixes this column
                if _owned_elsewhere(parent):
                    continue  # auth.User, ContentType...: the key is not the project's to widen
                yield Hit(
                    f"Foreign key {table}.{name} is {col.sql_type} because the key of {parent} is: "
                    f"when that key is widened to bigint, {table} is rewritten too, and every new "
                    "reference makes the change more expensive.",
                    statement=stmt,
                    table=table,
                    fix=hygiene.bigint_parent(op, table, name, parent),
                    severity=Severity.WARNING,
                )
            elif name == "id" or name.endswith("_id"):
                sql = with_type(stmt, col, ("pg_catalog", "int8")) if op.kind == "RunSQL" else None
                yield Hit(
                    f"{table}.{name} stores ids as {col.sql_type}: it overflows at {limit}, like a "
                    "key, and changing the type later rewrites the table.",
                    statement=stmt,
                    table=table,
                    fix=hygiene.bigint_column(op, name, sql),
                )


def _owned_elsewhere(table: str) -> bool:
    """``table`` belongs to a model of an installed third-party or contrib app."""
    from django.apps import apps

    from ..selection import is_third_party

    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == table:
            return is_third_party(model._meta.app_label)
    return False
