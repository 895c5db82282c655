"""SM307 non-atomic-robustness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Fix, Severity
from ..fixes import data
from ..parsing.postgres import relname
from ..parsing.statement import Statement
from ._data import is_noop_runpython, timeline
from .base import Hit, Rule

AT = enums.AlterTableType


def retry_failure(node: Any) -> str | None:
    """How ``node`` fails when it runs a second time, or None when it can be re-run."""
    if isinstance(node, ast.IndexStmt):
        if node.if_not_exists:
            return None
        if not node.idxname:
            return "builds a second, duplicate index (the index has no name)"
        return f"fails: index {node.idxname} already exists"
    if isinstance(node, (ast.CreateStmt, ast.CreateSeqStmt, ast.CreateSchemaStmt, ast.CreateExtensionStmt)):
        if node.if_not_exists:
            return None
        return "fails: the object already exists"
    if isinstance(node, (ast.CreateFunctionStmt, ast.CreateTrigStmt, ast.ViewStmt)):
        return None if node.replace else "fails: the object already exists"
    if isinstance(node, ast.CreateEnumStmt):
        return "fails: the type already exists"
    if isinstance(node, ast.AlterEnumStmt) and node.newVal and not node.oldVal:
        return None if node.skipIfNewValExists else "fails: the enum value already exists"
    if isinstance(node, ast.DropStmt):
        return None if node.missing_ok else "fails: the object no longer exists"
    if isinstance(node, ast.RenameStmt):
        return "fails: the old name no longer exists"
    if isinstance(node, ast.AlterTableStmt):
        if node.missing_ok and node.objtype != enums.ObjectType.OBJECT_TABLE:
            return None
        for cmd in node.cmds or ():
            if cmd.subtype == AT.AT_AddColumn and not cmd.missing_ok:
                name = getattr(cmd.def_, "colname", "")
                return f"fails: column {name} already exists"
            if cmd.subtype in (AT.AT_DropColumn, AT.AT_DropConstraint) and not cmd.missing_ok:
                return f"fails: {cmd.name} no longer exists"
            if cmd.subtype in (AT.AT_AddConstraint, AT.AT_AddIndexConstraint):
                name = getattr(cmd.def_, "conname", None)
                return f"fails: constraint {name} already exists" if name else "adds the constraint twice"
    return None


def _fallible(event: Statement | OperationFacts) -> bool:
    """Can this step fail (so that the migration is retried)? SET and SHOW cannot, really."""
    if isinstance(event, OperationFacts):
        return not is_noop_runpython(event)
    return not isinstance(event.node, (ast.VariableSetStmt, ast.VariableShowStmt))


class NonAtomicRobustness(Rule):
    """An `atomic = False` migration that cannot be re-run after it fails half-way.

    ## What it does
    In migrations with `atomic = False`, where every statement commits on its
    own, flags:

    - hand-written `CREATE INDEX CONCURRENTLY` without `IF NOT EXISTS` and
      `DROP INDEX CONCURRENTLY` without `IF EXISTS`;
    - a step that cannot run twice (`CREATE INDEX` without `IF NOT EXISTS`,
      `ADD COLUMN`, `ADD CONSTRAINT`, `RENAME`, `DROP` without `IF EXISTS`, ...)
      followed by another step that can fail: several `AddIndexConcurrently` in
      one migration, an `AddField` before a `RunPython`, and so on.

    A lone `AddIndexConcurrently` or `RemoveIndexConcurrently` (the safe index
    recipes), and `SET lock_timeout` before it, are not flagged.

    ## Why is this bad?
    Django records a migration as applied only after its last operation. When
    a non-atomic migration fails half-way (a lock timeout, a duplicate key, a
    deploy killed), everything before the failure stays, and the retry runs it
    again: `ADD COLUMN` then fails with "already exists" and the deploy is stuck
    until someone repairs the database by hand. A failed `CREATE INDEX
    CONCURRENTLY` is worse: it leaves an INVALID index that owns the name, so
    the retry fails, and with `IF NOT EXISTS` it silently keeps the useless
    index.

    ## Example
    ```python
    class Migration(migrations.Migration):
        atomic = False
        operations = [
            AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx")),
            AddIndexConcurrently("order", models.Index(fields=["note"], name="order_note_idx")),
        ]
    ```

    ## Use instead
    ```python
    # one concurrent index per atomic = False migration
    class Migration(migrations.Migration):
        atomic = False
        operations = [
            AddIndexConcurrently("order", models.Index(fields=["created"], name="order_created_idx")),
        ]
    ```
    Hand-written: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ...` and `DROP INDEX
    CONCURRENTLY IF EXISTS ...`. Before retrying a failed build, drop the
    INVALID index (`SELECT indexrelid::regclass FROM pg_index WHERE NOT
    indisvalid`).
    """

    code = "SM307"
    name = "non-atomic-robustness"
    severity = Severity.WARNING

    def check_migration(self, ctx: MigrationContext) -> Iterable[Hit]:
        if ctx.migration.atomic:
            return
        events = timeline(ctx)
        later_fallible = [False] * len(events)
        seen = False
        for i in range(len(events) - 1, -1, -1):
            later_fallible[i] = seen
            seen = seen or _fallible(events[i])
        reported: set[int] = set()
        for i, event in enumerate(events):
            if not isinstance(event, Statement) or event.node is None:
                continue
            node = event.node
            op = event.operation
            if (
                event.user_sql
                and isinstance(node, ast.IndexStmt)
                and node.concurrent
                and not node.if_not_exists
            ):
                reported.add(op.position)
                yield Hit(
                    f"CREATE INDEX CONCURRENTLY {node.idxname or ''} without IF NOT EXISTS: a failed "
                    "or cancelled build leaves an INVALID index that keeps the name, so running the "
                    "migration again fails with 'already exists'.",
                    statement=event,
                    lock="SHARE UPDATE EXCLUSIVE",
                    table=relname(node.relation),
                    fix=data.robust_statement(event.sql, data.idempotent(node), node.idxname),
                )
                continue
            if (
                event.user_sql
                and isinstance(node, ast.DropStmt)
                and node.removeType == enums.ObjectType.OBJECT_INDEX
                and node.concurrent
                and not node.missing_ok
            ):
                reported.add(op.position)
                yield Hit(
                    "DROP INDEX CONCURRENTLY without IF EXISTS: when the migration is run again "
                    "after a later failure, the index is already gone and the retry fails.",
                    statement=event,
                    lock="SHARE UPDATE EXCLUSIVE",
                    fix=data.robust_statement(event.sql, data.idempotent(node), None),
                )
                continue
            if op.position in reported or not later_fallible[i]:
                continue
            failure = retry_failure(node)
            if failure is None:
                continue
            reported.add(op.position)
            strongest = event.strongest
            yield Hit(
                f"In this atomic = False migration `{_short(event.sql)}` commits on its own and later "
                "steps can still fail; Django records the migration only at the end, so the retry "
                f"runs it again and it {failure}.",
                statement=event,
                lock=strongest.lock.label if strongest else None,
                table=strongest.table if strongest else None,
                fix=self._fix(ctx, event),
            )

    @staticmethod
    def _fix(ctx: MigrationContext, stmt: Statement) -> Fix:
        top = [o for o in ctx.operations if not o.database_only]
        prelude = [o for o in top if o.kind == "RunSQL" and _only_settings(ctx, o)]
        top = [o for o in top if o not in prelude]
        rewritten: dict[int, str] = {}
        for op in top:
            if op.kind != "RunSQL":
                continue
            parts = []
            for s in ctx.statements_of(op):
                if retry_failure(s.node) is None:
                    parts.append(s.sql)
                else:
                    fixed = data.idempotent(s.node)
                    if fixed is None:
                        break
                    parts.append(fixed)
            else:
                rewritten[op.position] = ";\n".join(parts)
        return data.one_operation_per_migration(top, rewritten, prelude)


def _only_settings(ctx: MigrationContext, op: OperationFacts) -> bool:
    statements = ctx.statements_of(op)
    return bool(statements) and all(isinstance(s.node, ast.VariableSetStmt) for s in statements)


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 90 else text[:87] + "..."
