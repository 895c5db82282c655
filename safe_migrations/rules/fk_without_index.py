"""SM408 fk-without-index."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import hygiene
from ._hygiene import columns, foreign_keys, index_keys
from .base import Hit, Rule


class FkWithoutIndex(Rule):
    """A foreign key column created without an index.

    ## What it does
    Flags foreign keys on columns the migration creates when no index of the
    same migration starts with those columns: `ForeignKey(db_index=False)` in
    `CreateModel` or `AddField` without a matching `Meta.indexes` entry, unique
    constraint or primary key, and hand-written `REFERENCES`. Foreign keys
    added to columns that already existed are not checked (their indexes may
    come from earlier migrations).

    ## Why is this bad?
    PostgreSQL does not index the referencing side of a foreign key. Every
    DELETE of a parent row, and every update of its key, must find the
    referencing rows: without an index that is a sequential scan of the whole
    child table, repeated per parent row, while locks are held. Django's
    `on_delete` handling (CASCADE, SET_NULL, PROTECT) runs the same lookup
    from Python before deleting.

    ## Example
    ```python
    migrations.AddField(
        "order", "referrer",
        models.ForeignKey("shop.customer", models.SET_NULL, null=True, db_index=False),
    )
    ```

    ## Use instead
    ```python
    # 1: the column, without constraint or index (a catalogue change)
    migrations.AddField(
        "order", "referrer",
        models.ForeignKey("shop.customer", models.SET_NULL, null=True,
                          db_constraint=False, db_index=False),
    )
    # 2 (atomic = False): the index, without blocking writes
    AddIndexConcurrently("order", models.Index(fields=["referrer"], name="order_referrer_idx"))
    # 3: the constraint NOT VALID, then VALIDATE (see add-foreign-key)
    ```
    On a table created in the same migration keep `db_index=True` (the
    default). A composite index whose leading column is the foreign key also
    serves.
    """

    code = "SM408"
    name = "fk-without-index"
    severity = Severity.INFO

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        created = {
            (col.table, col.name)
            for stmt in ctx.statements
            for col in columns(stmt)
            if col.kind in ("create", "add")
        }
        indexes = index_keys(ctx.statements)
        for fk in foreign_keys(ctx.statements):
            if not fk.columns or not all((fk.table, c) in created for c in fk.columns):
                continue  # an existing column: an earlier migration may have indexed it
            width = len(fk.columns)
            if any(set(keys[:width]) == set(fk.columns) for keys in indexes.get(fk.table, ())):
                continue
            op = fk.stmt.operation
            field = op.field_name if op.kind in ("AddField", "AlterField") else None
            cols = ", ".join(fk.columns)
            yield Hit(
                f"Foreign key {fk.table}({cols}) to {fk.parent} has no index: every DELETE of a "
                f"{fk.parent} row (and every change of its key) scans all of {fk.table} to find "
                "the referencing rows, and so does Django's on_delete handling.",
                statement=fk.stmt,
                table=fk.table,
                fix=hygiene.fk_index(
                    op, fk.table, fk.columns, field, new_table=ctx.is_new_table(fk.table, fk.stmt)
                ),
            )
