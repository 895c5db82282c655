"""SM302 runsql-without-reverse."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import data
from ..parsing.postgres import locks_of, relname
from ..parsing.statement import Statement
from ._ast import AT, alter_cmds
from ._data import Routine, called_functions, do_block, routines_created
from .base import Hit, Rule


def _describe(node: object, text: str) -> str:
    short = " ".join(text.split())
    short = short if len(short) <= 80 else short[:77] + "..."
    locks = locks_of(node)
    return f"{short} ({locks[0].lock.label} on {locks[0].table})" if locks else short


def _tables_with_triggers(ctx: MigrationContext) -> set[str]:
    return {relname(s.node.relation) for s in ctx.statements if isinstance(s.node, ast.CreateTrigStmt)}


class RunSqlWithoutReverse(Rule):
    """Hand-written SQL that cannot be rolled back, hides its DDL, or leaves Django's state behind.

    ## What it does
    Reviews every `migrations.RunSQL` and flags three things:

    - no `reverse_sql`, so the migration is irreversible;
    - `ADD COLUMN` on a model's table without `state_operations` (or
      `SeparateDatabaseAndState`) that tells Django about the column (as info;
      a column kept by a trigger created in the same migration, the shadow
      column of the change-type recipes, is left alone);
    - DDL the other rules cannot see: a `DO` block that runs DDL or builds SQL
      with `EXECUTE`, and `SELECT f()` / `CALL p()` of a function or procedure
      whose body is not in the migration (or that runs DDL itself).
      Well-known built-ins (`setval`, `set_config`, `pg_advisory_lock`, ...) are
      not flagged.

    ## Why is this bad?
    A blue/green rollback migrates the app back to the previous release's last
    migration. Without `reverse_sql` Django raises `IrreversibleError` there and
    the rollback stops half-way. A column added behind Django's back makes the
    migration state drift from the database: once the model declares it, the
    next `makemigrations` adds it again and that migration fails on deploy.
    And DDL inside a `DO` block or a function takes its locks (ACCESS
    EXCLUSIVE for most `ALTER TABLE`) unreviewed: no rule checks it.

    ## Example
    ```python
    migrations.RunSQL(
        "DO $$ BEGIN ALTER TABLE shop_customer ADD COLUMN nickname text; END $$"
    )
    ```

    ## Use instead
    ```python
    migrations.RunSQL(
        "ALTER TABLE shop_customer ADD COLUMN IF NOT EXISTS nickname text",
        reverse_sql="ALTER TABLE shop_customer DROP COLUMN IF EXISTS nickname",
        state_operations=[migrations.AddField("customer", "nickname", models.TextField(null=True))],
    )
    ```
    Use `migrations.RunSQL.noop` as `reverse_sql` when nothing needs undoing
    (a `SET`, a `VALIDATE CONSTRAINT`).
    """

    code = "SM302"
    name = "runsql-without-reverse"
    severity = Severity.WARNING

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if op.kind != "RunSQL" or op.has_reverse:
            return
        statements = ctx.statements_of(op)
        strongest = max((s.strongest for s in statements if s.strongest), key=lambda t: t.lock, default=None)
        yield Hit(
            "RunSQL has no reverse_sql: migrating back past it raises IrreversibleError, so a "
            "rollback of the release stops at this migration.",
            operation=op,
            lock=strongest.lock.label if strongest else None,
            table=strongest.table if strongest else None,
            fix=data.runsql_reverse(op, [s.node for s in statements]),
        )

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        if not stmt.user_sql or stmt.node is None:
            return
        yield from self._drift(stmt, ctx)
        yield from self._opaque(stmt, ctx)

    @staticmethod
    def _drift(stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        op = stmt.operation
        if op.database_only:
            return  # SeparateDatabaseAndState carries the state change
        known = dict(op.state_tables)
        added: dict[str, list[ast.ColumnDef]] = {}
        for table, cmd in alter_cmds(stmt.node, AT.AT_AddColumn):
            columns = known.get(table.split(".")[-1])
            if columns is None or not isinstance(cmd.def_, ast.ColumnDef):
                continue  # not a model's table
            if cmd.def_.colname not in columns:
                added.setdefault(table, []).append(cmd.def_)
        synced = _tables_with_triggers(ctx)
        for table, coldefs in added.items():
            if table in synced:
                continue  # a shadow column kept by a trigger (change-type recipes): outside the model on purpose
            names = ", ".join(str(c.colname) for c in coldefs)
            yield Hit(
                f"RunSQL adds {table}.{names}, which Django's migration state does not know: if the "
                "model declares it, the next makemigrations writes an AddField that fails on deploy "
                "with 'column already exists'.",
                statement=stmt,
                lock=stmt.strongest.lock.label if stmt.strongest else None,
                table=table,
                fix=data.state_operations(op, table, coldefs),
                severity=Severity.INFO,
            )

    def _opaque(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        what: str
        routine: Routine
        if isinstance(node, ast.DoStmt):
            what, routine = "A DO block", do_block(node)
        elif isinstance(node, (ast.SelectStmt, ast.CallStmt)):
            names = called_functions(node)
            if not names:
                return
            created = routines_created(ctx, stmt)
            known = [created[n.split(".")[-1]] for n in names if n.split(".")[-1] in created]
            unknown = [n for n in names if n.split(".")[-1] not in created]
            if unknown:
                yield Hit(
                    f"{'CALL' if isinstance(node, ast.CallStmt) else 'SELECT'} runs "
                    f"{', '.join(f'{n}()' for n in unknown)}, whose body is not in this migration: "
                    "any DDL inside takes its locks (ACCESS EXCLUSIVE for most ALTER TABLE) "
                    "without being checked.",
                    statement=stmt,
                    fix=data.opaque_sql(stmt.operation, stmt.sql, [], dynamic=False),
                )
                return
            merged = Routine(
                tuple(n for r in known for n in r.statements),
                tuple(t for r in known for t in r.texts),
                any(r.dynamic for r in known),
                next((r.unreadable for r in known if r.unreadable), None),
                tuple(c for r in known for c in r.calls),
            )
            what, routine = f"{', '.join(f'{n}()' for n in names)}", merged
        else:
            return
        ddl = routine.ddl()
        if not ddl and not routine.dynamic and routine.unreadable is None and not routine.calls:
            return  # only DML and reads, all visible
        parts = []
        locks = []
        for inner, _ in ddl:
            for lock in locks_of(inner):
                locks.append(lock)
        if ddl:
            described = "; ".join(_describe(n, text) for n, text in ddl)
            if isinstance(node, ast.DoStmt):
                # parse_migration lists a DO block's static statements: the rules check them.
                parts.append(f"hides DDL from review: {described} (each is checked as if written alone)")
            else:
                parts.append(f"runs DDL the other rules do not check: {described}")
        if routine.dynamic:
            parts.append("builds SQL at run time with EXECUTE, which no linter can read")
        if routine.unreadable:
            parts.append(f"cannot be read ({routine.unreadable})")
        if routine.calls:
            parts.append(f"calls {', '.join(f'{c}()' for c in routine.calls)}, whose body is unknown")
        strongest = max(locks, key=lambda lock: lock.lock, default=None)
        yield Hit(
            f"{what} {'; '.join(parts)}: "
            + (
                "reviewers and rollbacks see one opaque block."
                if isinstance(node, ast.DoStmt)
                and not (routine.dynamic or routine.unreadable or routine.calls)
                else "its locks and rewrites go unreviewed."
            ),
            statement=stmt,
            lock=strongest.lock.label if strongest else None,
            table=strongest.table if strongest else None,
            fix=data.opaque_sql(stmt.operation, stmt.sql, [t for _, t in ddl], routine.dynamic),
        )
