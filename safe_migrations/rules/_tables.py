"""Readers shared by the table rules (SM110-SM119): volatility, rewrites, timeouts, long statements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..facts import OperationFacts
from ..parsing.postgres import func_name, relname
from ..parsing.statement import Lock, Statement, TableLock
from ..pgtypes import rewrites
from ._ast import AT, CON, alter_cmds, char_flag, column_constraints

# Built-in functions whose pg_proc.provolatile is 'v' (VOLATILE), by name: a DEFAULT calling
# one is evaluated once per existing row, so ADD COLUMN rewrites the table even on PG >= 11.
# Read from pg_proc on PostgreSQL 15 (select proname from pg_proc where provolatile = 'v'),
# keeping the functions an expression can call, plus the later additions (random_normal 16,
# uuidv4/uuidv7 18) and the usual extension functions (uuid-ossp, pgcrypto). Every other
# built-in is STABLE or IMMUTABLE, which PG >= 11 evaluates once for the whole table.
VOLATILE_FUNCTIONS = frozenset(
    {
        # random values and identifiers
        "random",
        "random_normal",
        "setseed",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "gen_random_bytes",
        "gen_salt",
        # clocks that move during a statement
        "clock_timestamp",
        "timeofday",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        # sequences
        "nextval",
        "currval",
        "lastval",
        "setval",
        "pg_sequence_last_value",
        # session and server state
        "set_config",
        "current_query",
        "txid_status",
        "pg_xact_status",
        "pg_xact_commit_timestamp",
        "pg_xact_commit_timestamp_origin",
        "pg_last_committed_xact",
        "pg_notify",
        "pg_notification_queue_usage",
        "pg_current_wal_lsn",
        "pg_current_wal_insert_lsn",
        "pg_current_wal_flush_lsn",
        "pg_is_in_recovery",
        "pg_last_wal_receive_lsn",
        "pg_last_wal_replay_lsn",
        "pg_last_xact_replay_timestamp",
        "pg_database_size",
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_total_relation_size",
        "pg_tablespace_size",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_current_logfile",
        "pg_log_backend_memory_contexts",
        "pg_jit_available",
        "pg_nextoid",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_export_snapshot",
        "pg_advisory_lock",
        "pg_advisory_lock_shared",
        "pg_advisory_unlock",
        "pg_advisory_unlock_shared",
        "pg_advisory_unlock_all",
        "pg_advisory_xact_lock",
        "pg_advisory_xact_lock_shared",
        "pg_try_advisory_lock",
        "pg_try_advisory_lock_shared",
        "pg_try_advisory_xact_lock",
        "pg_try_advisory_xact_lock_shared",
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_logical_emit_message",
        "pg_control_checkpoint",
        "pg_control_init",
        "pg_control_recovery",
        "pg_control_system",
        "pg_collation_actual_version",
        "pg_database_collation_actual_version",
        "pg_stat_get_xact_numscans",
        "pg_stat_get_xact_tuples_returned",
        "pg_stat_get_xact_tuples_fetched",
        "pg_stat_get_xact_tuples_inserted",
        "pg_stat_get_xact_tuples_updated",
        "pg_stat_get_xact_tuples_deleted",
        "pg_stat_get_xact_tuples_hot_updated",
        "pg_stat_get_xact_blocks_fetched",
        "pg_stat_get_xact_blocks_hit",
        "pg_stat_get_xact_function_calls",
        "pg_stat_get_xact_function_total_time",
        "pg_stat_get_xact_function_self_time",
        "pg_stat_clear_snapshot",
        "pg_stat_have_stats",
        # large objects and XML built from queries
        "lo_creat",
        "lo_create",
        "lo_import",
        "lo_export",
        "lo_from_bytea",
        "lo_get",
        "lo_put",
        "lo_open",
        "lo_close",
        "lo_unlink",
        "loread",
        "lowrite",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "ts_rewrite",
    }
)

SERIAL_TYPES = frozenset({"smallserial", "serial", "bigserial", "serial2", "serial4", "serial8"})


def walk(node: Any) -> Iterator[Any]:
    """Every node below ``node`` (casts, parentheses, operators and arguments included)."""
    if isinstance(node, ast.Node):
        yield node
        for attr in node:
            yield from walk(getattr(node, attr))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from walk(item)


def declared_volatility(ctx: MigrationContext, before: Statement) -> dict[str, str]:
    """Functions this migration creates before ``before``: name -> immutable/stable/volatile.

    CREATE FUNCTION without a volatility clause declares VOLATILE.
    """
    found: dict[str, str] = {}
    for stmt in ctx.statements[: before.index]:
        node = stmt.node
        if isinstance(node, ast.CreateFunctionStmt) and not node.is_procedure:
            volatility = "volatile"
            for opt in node.options or ():
                if getattr(opt, "defname", "") == "volatility":
                    volatility = str(getattr(opt.arg, "sval", volatility)).lower()
            found[func_name(node)] = volatility
    return found


def volatile_calls(expr: Any, declared: dict[str, str] | None = None) -> list[str]:
    """Names of the VOLATILE functions an expression calls, at any depth."""
    declared = declared or {}
    names: list[str] = []
    for node in walk(expr):
        if isinstance(node, ast.FuncCall):
            name = func_name(node)
            volatile = declared[name] == "volatile" if name in declared else name in VOLATILE_FUNCTIONS
            if volatile and name not in names:
                names.append(name)
    return names


def default_expr(coldef: Any) -> Any:
    """The DEFAULT expression of a column definition, or None (DEFAULT NULL counts as none)."""
    for con in column_constraints(coldef):
        if con.contype == CON.CONSTR_DEFAULT:
            expr = con.raw_expr
            if isinstance(expr, ast.A_Const) and expr.isnull:
                return None
            return expr
    return None


def type_name(coldef: Any) -> str:
    names = [getattr(p, "sval", "") for p in getattr(coldef.typeName, "names", None) or ()]
    return (names[-1] if names else "").lower()


def is_serial(coldef: Any) -> bool:
    return type_name(coldef) in SERIAL_TYPES


def is_identity(coldef: Any) -> bool:
    return char_flag(coldef.identity) or any(
        c.contype == CON.CONSTR_IDENTITY for c in column_constraints(coldef)
    )


def stored_generated(coldef: Any) -> Any:
    """The GENERATED ... STORED constraint of a column (VIRTUAL ones, PG 18, compute on read)."""
    for con in column_constraints(coldef):
        if con.contype == CON.CONSTR_GENERATED and con.generated_kind != "v":
            return con
    return None


def add_column_rewrite(coldef: Any, ctx: MigrationContext, stmt: Statement) -> str | None:
    """Why ADD COLUMN rewrites the table, or None when it is a catalogue change."""
    if is_serial(coldef) or is_identity(coldef):
        return "fills a new sequence value into every row"
    if stored_generated(coldef) is not None:
        return "computes the stored generated value for every row"
    expr = default_expr(coldef)
    if expr is None:
        return None
    if volatile_calls(expr, declared_volatility(ctx, stmt)):
        return "evaluates the volatile DEFAULT for every row"
    if ctx.target.server_version < 11:
        return f"writes the DEFAULT into every row (PostgreSQL {ctx.target.server_version})"
    return None


def is_pk_type_change(op: OperationFacts) -> bool:
    """AlterField on a field that stays the primary key (int -> bigint, DEFAULT_AUTO_FIELD switch...).

    Django alters the primary key column and every foreign key column that references it
    in this one operation.
    """
    old, new = op.old_field, op.new_field
    return (
        op.kind == "AlterField"
        and old is not None
        and new is not None
        and old.primary_key
        and new.primary_key
    )


def pk_type_rewrites(op: OperationFacts, ctx: MigrationContext) -> bool | None:
    if not is_pk_type_change(op):
        return False
    assert op.old_field is not None and op.new_field is not None
    return rewrites(
        op.old_field.db_type,
        op.new_field.db_type,
        server_version=ctx.target.server_version,
        session_utc=ctx.target.session_utc,
    )


# --- what a statement does while it runs ----------------------------------------------------


def _add_column_work(coldef: Any, ctx: MigrationContext, stmt: Statement) -> str | None:
    rewrite = add_column_rewrite(coldef, ctx, stmt)
    if rewrite:
        return f"rewrites the table ({rewrite})"
    kinds = {c.contype for c in column_constraints(coldef)}
    if kinds & {CON.CONSTR_UNIQUE, CON.CONSTR_PRIMARY}:
        return "builds a unique index"
    if CON.CONSTR_CHECK in kinds:
        return "scans the table to check the new column"
    if CON.CONSTR_FOREIGN in kinds and default_expr(coldef) is not None:
        return "scans the table to validate the foreign key"
    return None


def _alter_table_work(node: Any, ctx: MigrationContext, stmt: Statement) -> str | None:
    op = stmt.operation
    for cmd in node.cmds or ():
        sub = cmd.subtype
        if sub == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            work = _add_column_work(cmd.def_, ctx, stmt)
            if work:
                return work
        elif sub == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            con = cmd.def_
            if con.contype in (CON.CONSTR_PRIMARY, CON.CONSTR_UNIQUE) and not con.indexname:
                return "builds a unique index"
            if con.contype == CON.CONSTR_EXCLUSION:
                return "builds an exclusion index"
            if con.contype in (CON.CONSTR_CHECK, CON.CONSTR_FOREIGN) and not con.skip_validation:
                return "scans the table to validate the constraint"
        elif sub == AT.AT_ValidateConstraint:
            return "scans the table to validate the constraint"
        elif sub == AT.AT_SetNotNull:
            proven = ctx.not_null_proven(stmt, relname(node.relation), str(cmd.name))
            if not (proven and ctx.target.server_version >= 12):
                return "scans the table to check for NULLs"
        elif sub == AT.AT_AlterColumnType:
            verdict = None
            if op.old_field is not None and op.new_field is not None:
                verdict = rewrites(
                    op.old_field.db_type,
                    op.new_field.db_type,
                    server_version=ctx.target.server_version,
                    session_utc=ctx.target.session_utc,
                )
            if verdict is not False:
                return "rewrites the table to change a column type"
        elif sub in (AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetTableSpace):
            return "rewrites the table"
        elif sub == AT.AT_AttachPartition:
            return "scans the partition to check its bound"
    return None


_KEY_COLUMNS = ("id", "pk", "ctid")


def _column(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        return _column(node.arg)
    if isinstance(node, ast.ColumnRef) and node.fields:
        return getattr(node.fields[-1], "sval", None)
    return None


def _constant(node: Any) -> bool:
    if isinstance(node, ast.TypeCast):
        return _constant(node.arg)
    return isinstance(node, (ast.A_Const, ast.ParamRef))


def bounded(where: Any) -> bool:
    """Does a WHERE clause pick a bounded slice of rows (a key equal to or in constants, a
    range closed on both sides, BETWEEN constants, a sub-select with LIMIT)?"""
    if where is None:
        return False
    if any(isinstance(n, ast.SelectStmt) and n.limitCount is not None for n in walk(where)):
        return True
    conjuncts = (
        list(where.args or ())
        if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR
        else [where]
    )
    lower: set[str] = set()
    upper: set[str] = set()
    for conj in conjuncts:
        column = _column(getattr(conj, "lexpr", None)) if isinstance(conj, ast.A_Expr) else None
        if column is None:
            continue
        kind = conj.kind
        op = getattr((conj.name or [None])[-1], "sval", "")
        if kind in (enums.A_Expr_Kind.AEXPR_BETWEEN, enums.A_Expr_Kind.AEXPR_BETWEEN_SYM):
            if all(_constant(v) for v in conj.rexpr or ()):
                return True
        elif kind == enums.A_Expr_Kind.AEXPR_IN and column in _KEY_COLUMNS:
            return True
        elif kind == enums.A_Expr_Kind.AEXPR_OP and _constant(conj.rexpr):
            if op == "=" and column in _KEY_COLUMNS:
                return True
            if op in (">", ">="):
                lower.add(column)
            elif op in ("<", "<="):
                upper.add(column)
    return bool(lower & upper)


def long_work(stmt: Statement, ctx: MigrationContext) -> str | None:
    """What ``stmt`` does that takes time proportional to table size (scan, rewrite,
    data change, index build), or None for a catalogue-only statement."""
    node = stmt.node
    if isinstance(node, ast.IndexStmt):
        return None if node.concurrent else "builds an index"
    if isinstance(node, (ast.UpdateStmt, ast.DeleteStmt)):
        return None if bounded(node.whereClause) else "changes rows"
    if isinstance(node, ast.MergeStmt):
        return "changes rows"
    if isinstance(node, ast.InsertStmt):
        select = node.selectStmt
        if isinstance(select, ast.SelectStmt) and select.fromClause:
            return "copies rows"
        return None
    if isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        return _alter_table_work(node, ctx, stmt)
    if isinstance(node, ast.ReindexStmt):
        return "rebuilds indexes"
    if isinstance(node, ast.ClusterStmt):
        return "rewrites the table"
    if isinstance(node, ast.VacuumStmt):
        return "vacuums the table"
    if isinstance(node, (ast.RefreshMatViewStmt, ast.CreateTableAsStmt)):
        return "runs a query over whole tables"
    return None


def is_new(ctx: MigrationContext, name: str, before: Statement) -> bool:
    """A table or an index created earlier in this migration (locks_of names an index for
    DROP INDEX): no other session can be using it."""
    return ctx.is_new_table(name, before) or ctx.is_new_index(name, before)


def new_locks(stmt: Statement, ctx: MigrationContext) -> list[tuple[str, Lock]]:
    """Locks ``stmt`` must acquire (not already held in its transaction) on pre-existing
    tables that make normal traffic wait (SHARE or stronger)."""
    held = ctx.held.get(stmt.index, {})
    wanted: list[tuple[str, Lock]] = []
    for lock in stmt.locks:
        if is_new(ctx, lock.table, stmt) or not lock.lock.blocks_writes:
            continue
        current = held.get(lock.table)
        if current is None or lock.lock > current[0].lock:
            wanted.append((lock.table, lock.lock))
    return wanted


def partition_of(cmd: Any) -> str:
    return relname(getattr(cmd.def_, "name", None))


def describe(stmt: Statement, width: int = 80) -> str:
    """A short label for a statement: its SQL, quoted and cut, and the Django operation
    that emitted it (RunSQL is the SQL itself)."""
    sql = " ".join(stmt.sql.split()).rstrip(";")
    label = "'" + (sql if len(sql) <= width else sql[: width - 3] + "...") + "'"
    if stmt.operation.kind != "RunSQL" and stmt.operation.describe:
        label += f" ({stmt.operation.describe})"
    return label


def partition_locks(stmt: Statement) -> list[TableLock]:
    """Locks on the partition named by ATTACH/DETACH PARTITION, which locks_of leaves out.

    ATTACH: ACCESS EXCLUSIVE on the table being attached (it is scanned unless a CHECK
    proves the bound); DETACH: ACCESS EXCLUSIVE on the partition, SHARE UPDATE EXCLUSIVE
    with CONCURRENTLY (PostgreSQL docs, ALTER TABLE; RULES.md section 9.2).
    """
    found: list[TableLock] = []
    for _, cmd in alter_cmds(stmt.node, AT.AT_AttachPartition, AT.AT_DetachPartition):
        concurrent = cmd.subtype == AT.AT_DetachPartition and bool(getattr(cmd.def_, "concurrent", False))
        lock = Lock.SHARE_UPDATE_EXCLUSIVE if concurrent else Lock.ACCESS_EXCLUSIVE
        found.append(TableLock(partition_of(cmd), lock))
    return found


def blocking_locks(stmt: Statement, ctx: MigrationContext) -> list[tuple[str, Lock]]:
    """(table, lock) of ``stmt`` on pre-existing tables that ordinary writes wait for
    (SHARE or stronger), strongest first."""
    found = [
        (t.table, t.lock)
        for t in (*stmt.locks, *partition_locks(stmt))
        if t.lock.blocks_writes and not is_new(ctx, t.table, stmt)
    ]
    return sorted(found, key=lambda pair: -pair[1])
