"""SM303 schema-and-data-in-one-atomic-migration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pglast import ast
from pglast.enums import ConstrType

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Fix, Severity
from ..fixes import data, recipes
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._data import (
    batch_bound,
    dml_table,
    is_ddl,
    is_dml,
    is_noop_runpython,
    op_transaction,
    pre_existing_locks,
    python_facts,
    timeline,
)
from .base import Hit, Rule


@dataclass(frozen=True)
class _Step:
    """A data step: a RunPython, or an INSERT/UPDATE/DELETE statement."""

    what: str
    tx: int
    position: int  # in the timeline
    heavy: bool  # may touch many rows or run long
    writes: bool
    tables: frozenset[str] | None  # tables it writes; None: unknown
    op: OperationFacts
    stmt: Statement | None = None


class SchemaAndDataInOneAtomicMigration(Rule):
    """Schema changes and a data step in one transaction: the DDL lock lasts for the data step.

    ## What it does
    Flags a data step that shares a transaction with DDL on an existing table:
    a `RunPython`, a hand-written `UPDATE`/`INSERT`/`DELETE` in `RunSQL`, or the
    `UPDATE ... WHERE col IS NULL` Django itself runs when `AlterField` makes a
    column NOT NULL and the field has a default. An atomic migration (the
    default) is one transaction; so is a `RunPython(atomic=True)` in a
    non-atomic one.

    A `RunPython` is read with Python's `ast` module and judged like the SQL it
    runs: `update()`, `delete()`, `bulk_update()` or a loop of `save()` writes
    rows like an `UPDATE` (`filter(status="a").update(...)` can match the whole
    table, as `UPDATE ... WHERE status = 'a'` can). Code that only creates rows
    or changes rows picked by primary key (`filter(pk__in=ids)`, `get(pk=...)`)
    does not hold the lock for long and is not flagged after DDL;
    `RunPython.noop` never is.

    ## Why is this bad?
    PostgreSQL keeps every lock until COMMIT. After `ALTER TABLE` (ACCESS
    EXCLUSIVE) the table stays unreadable and unwritable for the whole data
    step (measured: an `ADD COLUMN` lock held through a 593 ms `UPDATE` of
    200,000 rows); after `CREATE INDEX` or a foreign key, writes wait. The
    other order fails outright: Django creates every `ForeignKey` as
    `DEFERRABLE INITIALLY DEFERRED`, so rows written by the data step leave
    pending foreign-key checks, and PostgreSQL then refuses `ALTER TABLE` and
    `CREATE INDEX` on that table ("cannot ALTER TABLE ... because it has pending
    trigger events"): the deploy stops mid-way.

    ## Example
    ```python
    operations = [
        migrations.AddField("customer", "points", models.IntegerField(null=True)),
        migrations.RunPython(fill_points, migrations.RunPython.noop),
    ]
    ```

    ## Use instead
    ```python
    # 0002: schema only (atomic), the lock is released at COMMIT
    operations = [migrations.AddField("customer", "points", models.IntegerField(null=True))]

    # 0003: the data, in batches, without a migration-wide transaction
    class Migration(migrations.Migration):
        atomic = False
        operations = [migrations.RunPython(fill_points_in_batches, migrations.RunPython.noop)]

    # 0004: the schema change that needs the data (e.g. NOT NULL, see set-not-null)
    ```
    """

    code = "SM303"
    name = "schema-and-data-in-one-atomic-migration"
    severity = Severity.ERROR

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        events = timeline(ctx)
        for step in self._steps(events, ctx):
            held = self._held(events, step, ctx)
            after = self._ddl_after(events, step, ctx) if step.writes else None
            if not (held and step.heavy) and after is None:
                continue
            parts = []
            lock = table = None
            if held and step.heavy:
                (table, lock), taken_by = held
                blocked = "every query on" if lock is Lock.ACCESS_EXCLUSIVE else "every write to"
                parts.append(
                    f"{step.what} runs while the same transaction holds {lock.label} on {table} "
                    f"(taken by `{_short(taken_by.sql)}`): {blocked} {table} waits until the data "
                    "step and the rest of the migration have committed"
                )
            if after is not None:
                ddl_table = after.locks[0].table if after.locks else "?"
                certain = ddl_table in _fk_tables(events, step)
                parts.append(
                    f"{'then ' if parts else ''}`{_short(after.sql)}` runs after {step.what} in the "
                    f"same transaction: PostgreSQL refuses ALTER TABLE and CREATE INDEX on "
                    f"{ddl_table} while rows the data step wrote have pending foreign-key checks "
                    "(Django creates every ForeignKey DEFERRABLE INITIALLY DEFERRED), so the "
                    + (
                        f"migration fails with 'pending trigger events' ({ddl_table} gets a foreign "
                        "key earlier in this migration)"
                        if certain
                        else "migration fails with 'pending trigger events' if those rows carry a foreign key"
                    )
                )
                if lock is None:
                    strongest = after.strongest
                    lock, table = (strongest.lock, strongest.table) if strongest else (None, ddl_table)
            yield Hit(
                "; ".join(parts) + ".",
                operation=step.op if step.stmt is None else None,
                statement=step.stmt,
                lock=lock.label if lock else None,
                table=table,
                fix=self._fix(step, ctx),
            )

    @staticmethod
    def _steps(events: list[Statement | OperationFacts], ctx: MigrationContext) -> Iterable[_Step]:
        for i, event in enumerate(events):
            if isinstance(event, OperationFacts):
                tx = op_transaction(event, ctx)
                if tx is None or is_noop_runpython(event) or event.runpython is None:
                    continue
                facts = python_facts(event.runpython.source)
                fn = event.runpython.code.rsplit(".", 1)[-1]
                yield _Step(
                    f"RunPython({fn})",
                    tx,
                    i,
                    heavy=facts is None or not facts.is_light_by_key,
                    writes=facts is None or facts.writes_rows,
                    tables=frozenset(facts.tables()) if facts is not None and facts.models else None,
                    op=event,
                )
            elif is_dml(event):
                node = event.node
                table = dml_table(node) or "?"
                verb = type(node).__name__.removesuffix("Stmt").upper()
                if isinstance(node, ast.InsertStmt):
                    select = node.selectStmt
                    heavy = not (isinstance(select, ast.SelectStmt) and select.valuesLists)
                elif isinstance(node, (ast.UpdateStmt, ast.DeleteStmt)):
                    heavy = batch_bound(node.whereClause) is None
                else:
                    heavy = True
                what = (
                    f"{verb} on {table}"
                    if event.user_sql
                    else f"Django's backfill `{_short(event.sql)}` (from {event.operation.kind} with a default)"
                )
                yield _Step(
                    what,
                    ctx.transaction_of(event),
                    i,
                    heavy,
                    True,
                    frozenset({table}),
                    event.operation,
                    event,
                )

    @staticmethod
    def _held(
        events: list[Statement | OperationFacts], step: _Step, ctx: MigrationContext
    ) -> tuple[tuple[str, Lock], Statement] | None:
        """The strongest write-blocking lock earlier DDL of the same transaction holds,
        on a table the step writes when there is one."""
        best: tuple[tuple[str, Lock], Statement] | None = None

        def rank(table: str, lock: Lock) -> tuple[bool, Lock]:
            return (step.tables is not None and table in step.tables, lock)

        for event in events[: step.position]:
            if not isinstance(event, Statement) or ctx.transaction_of(event) != step.tx:
                continue
            if not (is_ddl(event) or isinstance(event.node, ast.LockStmt)):
                continue
            for table, lock in pre_existing_locks(event, ctx, Lock.SHARE):
                if best is None or rank(table, lock) > rank(*best[0]):
                    best = ((table, lock), event)
        return best

    @staticmethod
    def _ddl_after(
        events: list[Statement | OperationFacts], step: _Step, ctx: MigrationContext
    ) -> Statement | None:
        """DDL later in the same transaction on a table the step may have written."""
        with_fk = _fk_tables(events, step)
        for event in events[step.position + 1 :]:
            if not isinstance(event, Statement) or ctx.transaction_of(event) != step.tx:
                continue
            if isinstance(event.node, ast.ConstraintsSetStmt) and not event.node.deferred:
                if not event.node.constraints:
                    return None  # SET CONSTRAINTS ALL IMMEDIATE runs the pending checks
                continue
            if not is_ddl(event) or not event.locks:
                continue
            if isinstance(event.node, ast.CreateStmt):
                continue  # a new table has no pending events
            table = event.locks[0].table
            if ctx.is_new_table(table, event) and table not in with_fk:
                continue  # created in this migration without a foreign key yet: no pending checks
            if step.tables is None or table in step.tables:
                return event
        return None

    @staticmethod
    def _fix(step: _Step, ctx: MigrationContext) -> Fix:
        op = step.op
        top = [o for o in ctx.operations if not o.database_only]
        before = [o for o in top if o.index < op.index]
        after = [o for o in top if o.index > op.index]
        if step.stmt is not None and not step.stmt.user_sql:
            return _inline_backfill_fix(op, before, step.stmt, ctx)
        if step.stmt is not None and isinstance(step.stmt.node, (ast.UpdateStmt, ast.DeleteStmt)):
            table = dml_table(step.stmt.node) or "?"
            data_code = data.sql_backfill(op, table, step.stmt.node).code
        elif op.runpython is not None:
            facts = python_facts(op.runpython.source)
            write = next((w for w in facts.writes if not w.key_bounded or w.in_loop), None) if facts else None
            if facts is not None and write is not None:
                app, model = facts.models.get(write.model, (op.app_label, write.model))
                data_code = data.python_backfill(op, app, model, write.model, write.call, write.kind).code
            else:
                data_code = data.runpython_as_own_migration(op)
        else:
            data_code = data.data_migration(
                "a migration of its own: the data step", [], data.ops_code([op])[0], atomic=False
            )
        return data.split_schema_and_data(before, after, data_code)


def _inline_backfill_fix(
    op: OperationFacts, before: list[OperationFacts], stmt: Statement, ctx: MigrationContext
) -> Fix:
    """AlterField to NOT NULL with a default: backfill in batches, then the set-not-null recipe."""
    table = dml_table(stmt.node) or "?"
    field = op.new_field
    column = field.column if field and field.column else op.field_name or "?"
    name = op.field_name or column
    default = field.default_code if field and field.default_code else "..."
    app, model = op.app_label, op.model_name or data.model_for_table(table, op.app_label)[1]
    var = data.class_name(model)
    inner = f"{var}.objects.using(db).filter(pk__in=ids, {name}__isnull=True).update({name}={default})"
    fn = f"backfill_{name}"
    backfill = data.data_migration(
        "migration 2 (atomic = False): fill the NULLs in batches",
        [f"BATCH = {data.BATCH}", data.backfill_function(fn, app, model, var, inner)],
        [f"migrations.RunPython({fn}, migrations.RunPython.noop),"],
        atomic=False,
        imports=("import time", ""),
    )
    not_null = recipes.set_not_null(
        op, table, column, ctx.target.server_version, ctx.target.django_version
    ).code
    # An earlier RunPython of the same migration has a finding (and a split) of its own;
    # copying it here would put schema and data back into one migration.
    schema_only = [o for o in before if o.kind != "RunPython"]
    steps = [
        "Then make the column NOT NULL without Django's inline UPDATE: CHECK NOT VALID, VALIDATE, SET NOT NULL (see set-not-null)."
    ]
    if len(schema_only) < len(before):
        steps.insert(
            0, "Move the migration's own RunPython out as its own finding shows (not repeated here)."
        )
    return data.split_schema_and_data(schema_only, [], backfill, data_steps=tuple(steps), after_code=not_null)


def _fk_tables(events: list[Statement | OperationFacts], step: _Step) -> set[str]:
    """Tables that get a foreign key earlier in the migration than ``step``."""
    out: set[str] = set()
    for event in events[: step.position]:
        if not isinstance(event, Statement):
            continue
        node = event.node
        if isinstance(node, ast.AlterTableStmt):
            table = relname(node.relation)
            for cmd in node.cmds or ():
                cons: Any = [cmd.def_] if isinstance(cmd.def_, ast.Constraint) else []
                cons += list(getattr(cmd.def_, "constraints", None) or ())
                if any(getattr(c, "contype", None) == ConstrType.CONSTR_FOREIGN for c in cons):
                    out.add(table)
        elif isinstance(node, ast.CreateStmt):
            for elt in node.tableElts or ():
                cons = elt.constraints if isinstance(elt, ast.ColumnDef) else [elt]
                if any(getattr(c, "contype", None) == ConstrType.CONSTR_FOREIGN for c in cons or ()):
                    out.add(relname(node.relation))
    return out


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 90 else text[:87] + "..."
