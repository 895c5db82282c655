"""Whether lock_timeout / statement_timeout is in force when a statement starts.

Read from the SET / SET LOCAL / RESET / set_config statements of the migration, with
what the connection or the deploy configures as the starting value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from .parsing.postgres import func_name

if TYPE_CHECKING:
    from .context import MigrationContext
    from .parsing.statement import Statement


def _timeout_value_on(value: Any) -> bool:
    """False when the value switches the timeout off (0, '0', '0ms', ...)."""
    val = getattr(value, "val", value)
    if isinstance(val, ast.Integer):
        return bool(val.ival)
    if isinstance(val, ast.Float):
        return float(val.fval or 0) != 0
    text = str(getattr(val, "sval", "") or "").strip().lower()
    digits = ""
    for char in text:
        if char.isdigit() or char == ".":
            digits += char
        else:
            break
    try:
        return float(digits) != 0 if digits else bool(text)
    except ValueError:
        return True


def timeout_setting(node: Any, name: str) -> tuple[bool | None, bool] | None:
    """(on, is_local) when ``node`` sets GUC ``name``; on is None for RESET / DEFAULT."""
    if isinstance(node, ast.VariableSetStmt):
        kind = node.kind
        if kind == enums.VariableSetKind.VAR_RESET_ALL:
            return None, False
        if node.name != name:
            return None
        if kind == enums.VariableSetKind.VAR_SET_VALUE and node.args:
            return _timeout_value_on(node.args[0]), bool(node.is_local)
        if kind in (enums.VariableSetKind.VAR_SET_DEFAULT, enums.VariableSetKind.VAR_RESET):
            return None, bool(node.is_local)
        return None
    if isinstance(node, ast.SelectStmt) and node.targetList and not node.fromClause:
        # SELECT set_config('lock_timeout', '2s', true)
        for target in node.targetList:
            call = getattr(target, "val", None)
            if not isinstance(call, ast.FuncCall) or func_name(call) != "set_config":
                continue
            args = list(call.args or ())
            if len(args) != 3 or not all(isinstance(a, ast.A_Const) for a in args):
                continue
            if str(getattr(args[0].val, "sval", "")).lower() != name:
                continue
            local = getattr(args[2].val, "boolval", None)
            return _timeout_value_on(args[1]), bool(local)
    return None


def in_transaction_block(ctx: MigrationContext, stmt: Statement) -> bool:
    """Does ``stmt`` run inside a transaction block (not autocommit)?"""
    return ctx.migration.atomic or bool(stmt.operation.atomic)


def timeout_in_force(ctx: MigrationContext, stmt: Statement, name: str, configured: bool) -> bool:
    """Is GUC ``name`` (lock_timeout, statement_timeout) non-zero when ``stmt`` starts?

    ``configured``: the connection or the role sets it. ``SET`` lasts for the session,
    ``SET LOCAL`` (and ``set_config(..., true)``) until the end of its transaction and does
    nothing in autocommit (an ``atomic = False`` migration); ``SET ... = 0`` switches the
    timeout off and ``RESET``/``DEFAULT`` returns to the configured value.
    """
    state = configured
    tx = ctx.transaction_of(stmt)
    for earlier in ctx.statements[: stmt.index]:
        setting = timeout_setting(earlier.node, name)
        if setting is None:
            continue
        on, local = setting
        if local and (ctx.transaction_of(earlier) != tx or not in_transaction_block(ctx, earlier)):
            continue
        state = configured if on is None else on
    return state
