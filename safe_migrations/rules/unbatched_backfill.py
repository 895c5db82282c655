"""SM304 unbatched-backfill."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Fix, Severity
from ..fixes import data
from ..parsing.statement import Lock, Statement
from ..timeouts import in_transaction_block
from ._data import Write, batch_bound, dml_table, is_noop_runpython, op_transaction, python_facts
from .base import Hit, Rule


class UnbatchedBackfill(Rule):
    """A data migration that changes a whole table in one statement or one transaction.

    ## What it does
    Flags hand-written `UPDATE`/`DELETE` in `RunSQL` whose `WHERE` does not limit
    it to a batch (a key range, `BETWEEN`, a key list, a sub-select with `LIMIT`),
    and `RunPython` code (read with Python's `ast` module) that calls
    `.update()` or `.delete()` on a queryset that is not narrowed to a few rows
    (`Model.objects.update(...)`, `.filter(col__isnull=True).update(...)`),
    `bulk_update()` without `batch_size`, and, when the function runs inside a
    transaction (an atomic migration or `RunPython(atomic=True)`), loops that
    write rows one batch or one row at a time: their batches all commit together.
    Tables created earlier in the same migration are exempt.

    ## Why is this bad?
    Every row an `UPDATE` touches stays locked (ROW EXCLUSIVE on the table, a row
    lock on each row) until its transaction ends: application writes to those
    rows wait, and time out on a big table (measured: 570 ms for 200,000 rows,
    minutes for tens of millions). The burst of WAL makes replicas lag, and the
    long transaction holds back VACUUM. In an atomic migration the transaction
    also keeps every lock the migration's DDL took.

    ## Example
    ```python
    def fill_points(apps, schema_editor):
        Customer = apps.get_model("shop", "Customer")
        Customer.objects.filter(points__isnull=True).update(points=0)

    operations = [migrations.RunPython(fill_points, migrations.RunPython.noop)]
    ```

    ## Use instead
    ```python
    def fill_points(apps, schema_editor):
        Customer = apps.get_model("shop", "Customer")
        db = schema_editor.connection.alias
        last = 0
        while True:
            with transaction.atomic(using=db):  # one short transaction per batch
                ids = list(Customer.objects.using(db).filter(pk__gt=last)
                           .order_by("pk").values_list("pk", flat=True)[:5000])
                if not ids:
                    break
                Customer.objects.using(db).filter(pk__in=ids, points__isnull=True).update(points=0)
            last = ids[-1]
            time.sleep(0.05)

    class Migration(migrations.Migration):
        atomic = False  # no migration-wide transaction
        operations = [migrations.RunPython(fill_points, migrations.RunPython.noop)]
    ```
    For tables that take more than a few minutes, run the same loop as a
    management command after the deploy.
    """

    code = "SM304"
    name = "unbatched-backfill"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not stmt.user_sql or not isinstance(node, (ast.UpdateStmt, ast.DeleteStmt)):
            return
        table = dml_table(node) or "?"
        if stmt.inside is not None and _block_commits(ctx, ctx.statements[stmt.inside]):
            return  # a DO block that COMMITs each batch, outside a transaction block (PG 11+)
        if ctx.is_new_table(table, stmt) or batch_bound(node.whereClause) is not None:
            return
        verb = "UPDATE" if isinstance(node, ast.UpdateStmt) else "DELETE"
        scope = "every row" if node.whereClause is None else "every matching row"
        until = (
            "the migration's transaction commits"
            if ctx.migration.atomic
            else "the statement ends, which takes as long as the whole table"
        )
        yield Hit(
            f"{verb} on {table} changes {scope} in one statement: each row stays locked until "
            f"{until}, application writes to those rows wait, and replicas lag behind the burst "
            "of WAL.",
            statement=stmt,
            lock=Lock.ROW_EXCLUSIVE.label,
            table=table,
            fix=data.sql_backfill(stmt.operation, table, node),
        )

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if op.runpython is None or is_noop_runpython(op):
            return
        facts = python_facts(op.runpython.source)
        if facts is None:
            return  # no source to read (a lambda in a longer expression, a builtin)
        in_tx = op_transaction(op, ctx) is not None
        fn = op.runpython.code.rsplit(".", 1)[-1]
        unbounded = [w for w in facts.writes if not w.targeted]
        looped = [w for w in facts.writes if w.targeted and (w.in_loop or w.kind == "bulk_update")]
        if unbounded:
            write = unbounded[0]
            app, model = facts.models.get(write.model, (op.app_label, write.model))
            until = "the migration's transaction commits" if in_tx else "the statement ends"
            what = {
                "update": "updates every matching",
                "delete": "deletes every matching",
                "bulk_update": "saves all the given",
            }.get(write.kind, "changes every matching")
            yield Hit(
                f"RunPython({fn}) {what} {model} row in one statement (line {write.line} of {fn}: "
                f"`{_short(write.code)}`): each row stays locked until {until}, application "
                "writes to those rows wait, and replicas lag behind the burst of WAL" + _more(unbounded),
                operation=op,
                lock=Lock.ROW_EXCLUSIVE.label,
                table=_table(ctx, app, model),
                fix=data.python_backfill(op, app, model, write.model, write.call, write.kind, write.line),
            )
        elif looped and in_tx:
            write = looped[0]
            app, model = facts.models.get(write.model, (op.app_label, write.model))
            yield Hit(
                f"RunPython({fn}) writes {model} rows in a loop (line {write.line} of {fn}: "
                f"`{_short(write.code)}`) inside the migration's transaction: its writes all "
                "commit together at the end, so every changed row stays locked and application "
                "writes to them wait until the whole loop and the migration have finished" + _more(looped),
                operation=op,
                lock=Lock.ROW_EXCLUSIVE.label,
                table=_table(ctx, app, model),
                fix=_non_atomic(op),
            )


def _table(ctx: MigrationContext, app: str, model: str) -> str:
    """The model's table if the migration's state knows it, else Django's default name."""
    for op in ctx.operations:
        for facts in (op.model_before, op.model_after):
            if facts is not None and facts.app_label == app and facts.name.lower() == model.lower():
                return facts.db_table
    return f"{app}_{model}".lower()


def _non_atomic(op: OperationFacts) -> Fix:
    fn, reverse, fn_def, reverse_def = data.named_functions(op)
    # A lambda's source is the line that holds it: carry a function named fn instead.
    source = fn_def or (textwrap.dedent(op.runpython.source or "") if op.runpython else "")
    code = data.data_migration(
        "a migration of its own (atomic = False): each write commits on its own",
        [source, *filter(None, [reverse_def])],
        [f"migrations.RunPython({fn}, {reverse}),"],
        atomic=False,
    )
    steps = (
        "Run the function in a migration of its own with `atomic = False` (and RunPython without "
        "atomic=True): each statement then commits on its own and releases its row locks.",
        "Where several writes belong together, wrap each batch (a few thousand rows) in its own "
        "transaction.atomic(), never the whole loop.",
        "For tables that take more than a few minutes, run the loop as a management command after "
        "the deploy.",
    )
    return Fix("Commit batch by batch: move the loop to an atomic = False migration", steps, code)


def _more(writes: list[Write]) -> str:
    """The end of the message: how many other such writes the function has."""
    if len(writes) < 2:
        return "."
    others = len(writes) - 1
    return f" ({others} more such write{'s' if others > 1 else ''} in the function)."


def _short(code: str) -> str:
    text = " ".join(code.split())
    return text if len(text) <= 90 else text[:87] + "..."


def _block_commits(ctx: MigrationContext, block: Statement) -> bool:
    """A DO block with COMMIT inside, run in autocommit (an atomic = False migration)."""
    return re.search(r"\bCOMMIT\b", block.sql, re.IGNORECASE) is not None and not in_transaction_block(
        ctx, block
    )
