"""SM119 partition-detach-attach."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import tables
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import AT, CON, alter_cmds, deparse
from ._tables import partition_of, walk
from .base import Hit, Rule


def _constants(nodes: Any) -> set[str]:
    """The literal values in a bound or an expression, as text."""
    found: set[str] = set()
    for node in walk(nodes):
        if isinstance(node, ast.A_Const) and not node.isnull:
            for attr in ("ival", "fval", "sval", "boolval"):
                if hasattr(node.val, attr):
                    found.add(str(getattr(node.val, attr)))
                    break
    return found


def _bound_values(bound: Any) -> set[str]:
    """Literal bound values (MINVALUE/MAXVALUE are column references, not constants)."""
    return _constants([bound.lowerdatums, bound.upperdatums, bound.listdatums])


def _has_not_null(expr: Any) -> bool:
    return any(
        isinstance(node, ast.NullTest) and node.nulltesttype == enums.NullTestType.IS_NOT_NULL
        for node in walk(expr)
    )


def _partition_key(ctx: MigrationContext, parent: str) -> list[str]:
    """The partition key columns, when this migration creates the partitioned table."""
    for stmt in ctx.statements:
        node = stmt.node
        if isinstance(node, ast.CreateStmt) and relname(node.relation) == parent and node.partspec:
            return [str(p.name) for p in node.partspec.partParams or () if getattr(p, "name", None)]
    return []


def _check_for(bound: Any, key: list[str]) -> tuple[str | None, bool]:
    """A CHECK expression implying a single-column range or list bound (None when it cannot be
    written), and whether the key column is known (else it is spelled "key")."""
    if len(key) > 1 or bound is None or bound.is_default or bound.strategy not in ("r", "l"):
        return None, False
    name = key[0] if key else "key"
    col = '"' + name.replace('"', '""') + '"'
    parts = [f"{col} IS NOT NULL"]
    if bound.strategy == "l":
        parts.append(f"{col} IN ({', '.join(deparse(d) for d in bound.listdatums or ())})")
    else:
        low, high = (bound.lowerdatums or [None])[0], (bound.upperdatums or [None])[0]
        if isinstance(low, ast.A_Const):
            parts.append(f"{col} >= {deparse(low)}")
        if isinstance(high, ast.A_Const):
            parts.append(f"{col} < {deparse(high)}")
    return " AND ".join(parts), bool(key)


class PartitionDetachAttach(Rule):
    """Detaching a partition without CONCURRENTLY, or attaching one that must be scanned first.

    ## What it does
    Flags `ALTER TABLE ... DETACH PARTITION` without `CONCURRENTLY`, and
    `ALTER TABLE ... ATTACH PARTITION` of an existing table when no validated
    CHECK constraint proving the partition bound (`IS NOT NULL` on the key
    included) is added to it earlier in the migration. An attach followed in
    the same migration by dropping a CHECK on the partition that an earlier
    migration added is the recipe below and passes. `DETACH ... CONCURRENTLY`
    on a server older than PostgreSQL 14 is an error: the statement does not
    exist there.

    ## Why is this bad?
    `DETACH PARTITION` takes ACCESS EXCLUSIVE on the partitioned table and on
    the partition: quick, but it queues behind every running query on any
    partition and everything queues behind it. `ATTACH PARTITION` reads the
    whole table being attached under ACCESS EXCLUSIVE to check that every row
    fits the bound; before PostgreSQL 12 it also holds ACCESS EXCLUSIVE on the
    partitioned table meanwhile, from 12 on SHARE UPDATE EXCLUSIVE. A CHECK
    without `IS NOT NULL` on the key does not spare the scan.

    ## Example
    ```python
    migrations.RunSQL('ALTER TABLE "shop_event" DETACH PARTITION "shop_event_2023"', migrations.RunSQL.noop),
    migrations.RunSQL(
        'ALTER TABLE "shop_event" ATTACH PARTITION "shop_event_2025" '
        "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        migrations.RunSQL.noop,
    ),
    ```

    ## Use instead
    ```python
    class Migration(migrations.Migration):
        atomic = False  # PostgreSQL 14+: CONCURRENTLY cannot run in a transaction block
        operations = [
            migrations.RunSQL("SET lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.RunSQL(
                'ALTER TABLE "shop_event" DETACH PARTITION "shop_event_2023" CONCURRENTLY',
                migrations.RunSQL.noop,
            ),
        ]
    ```
    Before attaching, add `CHECK (key IS NOT NULL AND key >= low AND key < high)`
    to the table as NOT VALID, validate it in another migration (SHARE UPDATE
    EXCLUSIVE), then `ATTACH PARTITION` skips its scan; drop the CHECK right after.
    """

    code = "SM119"
    name = "partition-detach-attach"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        version = ctx.target.server_version
        for parent, cmd in alter_cmds(stmt.node, AT.AT_DetachPartition, AT.AT_AttachPartition):
            partition = partition_of(cmd)
            if ctx.is_new_table(parent, stmt) or ctx.is_new_table(partition, stmt):
                continue
            if cmd.subtype == AT.AT_DetachPartition:
                yield from self._detach(stmt, parent, partition, bool(cmd.def_.concurrent), version)
            else:
                yield from self._attach(stmt, ctx, parent, partition, cmd.def_.bound, version)

    @staticmethod
    def _detach(
        stmt: Statement, parent: str, partition: str, concurrent: bool, version: int
    ) -> Iterable[Hit]:
        fix = tables.detach_concurrently(parent, partition, version)
        if concurrent:
            if version >= 14:
                return
            yield Hit(
                f"DETACH PARTITION ... CONCURRENTLY needs PostgreSQL 14: on PostgreSQL {version} the "
                f"statement fails and the deploy stops here.",
                statement=stmt,
                lock=Lock.SHARE_UPDATE_EXCLUSIVE.label,
                table=parent,
                fix=fix,
                severity=Severity.ERROR,
            )
            return
        message = (
            f"Detaching {partition} from {parent} takes ACCESS EXCLUSIVE on both: it waits for every "
            f"running query on {parent}, and every query on {parent} queues behind it meanwhile."
        )
        if version < 14:
            message += f" PostgreSQL {version} has no DETACH PARTITION ... CONCURRENTLY."
        yield Hit(message, statement=stmt, lock=Lock.ACCESS_EXCLUSIVE.label, table=parent, fix=fix)

    def _attach(
        self, stmt: Statement, ctx: MigrationContext, parent: str, partition: str, bound: Any, version: int
    ) -> Iterable[Hit]:
        proof = self._proof(stmt, ctx, partition, bound)
        if proof == "proven":
            return
        message = (
            f"Attaching {partition} to {parent} reads all of {partition} under ACCESS EXCLUSIVE to check "
            "that every row fits the partition bound"
        )
        if version < 12:
            message += f", and PostgreSQL {version} holds ACCESS EXCLUSIVE on {parent} for the whole scan"
        message += ", because no validated CHECK constraint on the table proves the bound"
        if proof == "nullable":
            message += " (the CHECK found lacks IS NOT NULL on the partition key, so it does not count)"
        message += "."
        check_sql, known = _check_for(bound, _partition_key(ctx, parent))
        fix = tables.attach_with_check(parent, partition, check_sql, known, stmt.sql)
        table, lock = (parent, Lock.ACCESS_EXCLUSIVE) if version < 12 else (partition, Lock.ACCESS_EXCLUSIVE)
        yield Hit(message, statement=stmt, lock=lock.label, table=table, fix=fix)

    @staticmethod
    def _proof(stmt: Statement, ctx: MigrationContext, partition: str, bound: Any) -> str | None:
        """'proven' when a validated CHECK implies the bound; 'nullable' when a CHECK matches the
        bound values but lacks IS NOT NULL; None otherwise."""
        values = _bound_values(bound) if bound is not None else set()
        checks: dict[str, tuple[Any, bool, int]] = {}  # name -> (expression, validated, index)
        verdict = None
        for earlier in ctx.statements[: stmt.index]:
            for table, cmd in alter_cmds(earlier.node, AT.AT_AddConstraint, AT.AT_ValidateConstraint):
                if table != partition:
                    continue
                con = cmd.def_
                if cmd.subtype == AT.AT_ValidateConstraint and str(cmd.name) in checks:
                    expr, _, index = checks[str(cmd.name)]
                    checks[str(cmd.name)] = (expr, True, index)
                elif isinstance(con, ast.Constraint) and con.contype == CON.CONSTR_CHECK:
                    checks[str(con.conname or len(checks))] = (
                        con.raw_expr,
                        not con.skip_validation,
                        earlier.index,
                    )
        for expr, validated, _ in checks.values():
            if not validated or not values <= _constants(expr):
                continue
            if _has_not_null(expr):
                return "proven"
            verdict = "nullable"
        # The recipe across migrations: a CHECK added and validated earlier, dropped right after ATTACH.
        for later in ctx.statements[stmt.index + 1 :]:
            for table, cmd in alter_cmds(later.node, AT.AT_DropConstraint):
                if table == partition and str(cmd.name) not in checks and str(cmd.name) not in ctx.not_valid:
                    return "proven"
        return verdict
