"""Readers shared by the compatibility rules (SM202-SM211): state lookups and same-migration facts."""

from __future__ import annotations

import ast as pyast
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pglast import ast, enums

from ..parsing.postgres import relname
from ._ast import AT, alter_cmds

if TYPE_CHECKING:
    from ..context import MigrationContext
    from ..facts import OperationFacts
    from ..parsing.statement import Statement

OBJ = enums.ObjectType


def portable(ctx: MigrationContext, op: OperationFacts) -> bool:
    """Judge ``op`` by the operation alone: a backend whose SQL is not parsed into a tree
    (MySQL, MariaDB, SQLite, Oracle), on a model that existed before the migration."""
    if ctx.migration.vendor == "postgresql":
        return False
    model = (op.model_name or "").lower()
    return not any(
        other.position < op.position
        and other.kind == "CreateModel"
        and (other.model_name or "").lower() == model
        for other in ctx.operations
    )


def bare(name: str) -> str:
    """The unqualified name: the model state knows tables without their schema."""
    return name.rsplit(".", 1)[-1]


def names(obj: Any) -> str:
    """Dotted name of a DROP object (list of String nodes, TypeName or ObjectWithArgs)."""
    if isinstance(obj, ast.TypeName):
        obj = obj.names
    elif isinstance(obj, ast.ObjectWithArgs):
        obj = obj.objname
    if isinstance(obj, (list, tuple)):
        return ".".join(str(getattr(p, "sval", p)) for p in obj)
    return str(getattr(obj, "sval", obj))


def state_columns(op: OperationFacts, table: str) -> tuple[str, ...] | None:
    """Columns the model state knows for ``table`` at a RunSQL; None when it knows no such table.

    For a RunSQL with ``state_operations`` the collector records the state *after* them.
    """
    return dict(op.state_tables).get(bare(table))


def state_operations(op: OperationFacts) -> list[tuple[str, dict[str, Any]]]:
    """(operation class name, literal keyword arguments) of the op's ``state_operations``.

    The collector keeps them as the code Django's migration writer produced
    (``[migrations.RemoveField(model_name='customer', name='fax')]``); reading that
    code with Python's own parser is exact for what the writer emits.
    """
    code = op.kwarg("state_operations")
    if not code:
        return []
    try:
        tree = pyast.parse(code, mode="eval")
    except SyntaxError:
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    for node in pyast.walk(tree):
        if not isinstance(node, pyast.Call):
            continue
        func = node.func
        kind = func.attr if isinstance(func, pyast.Attribute) else getattr(func, "id", "")
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            try:
                kwargs[str(keyword.arg)] = pyast.literal_eval(keyword.value)
            except ValueError:
                continue
        for i, arg in enumerate(node.args):
            try:
                kwargs[f"_{i}"] = pyast.literal_eval(arg)
            except ValueError:
                continue
        found.append((kind, kwargs))
    return found


def removed_from_state_later(ctx: MigrationContext, op: OperationFacts) -> bool:
    """A later operation of the migration removes op's field from the state only (recipe R1)."""
    model, field = (op.model_name or "").lower(), op.field_name
    for other in ctx.operations:
        if other.position <= op.position:
            continue
        for kind, kwargs in state_operations(other):
            if kind != "RemoveField":
                continue
            name = kwargs.get("name", kwargs.get("_1"))
            other_model = str(kwargs.get("model_name", kwargs.get("_0", ""))).lower()
            if other_model == model and name == field:
                return True
    return False


def same_transaction_after(ctx: MigrationContext, stmt: Statement) -> Iterator[Statement]:
    tx = ctx.transaction_of(stmt)
    for later in ctx.statements[stmt.index + 1 :]:
        if ctx.transaction_of(later) == tx:
            yield later


def same_transaction_before(ctx: MigrationContext, stmt: Statement) -> Iterator[Statement]:
    tx = ctx.transaction_of(stmt)
    for earlier in ctx.statements[: stmt.index]:
        if ctx.transaction_of(earlier) == tx:
            yield earlier


def column_added_before(ctx: MigrationContext, stmt: Statement, table: str, column: str) -> bool:
    """``table.column`` was added by an earlier statement of this migration: no old code uses it."""
    for earlier in ctx.statements[: stmt.index]:
        for t, cmd in alter_cmds(earlier.node, AT.AT_AddColumn):
            coldef = cmd.def_
            if bare(t) == bare(table) and isinstance(coldef, ast.ColumnDef) and coldef.colname == column:
                return True
    return False


def column_renames(node: Any) -> tuple[str, str, str] | None:
    """(table, old column, new column) of ``ALTER TABLE ... RENAME COLUMN``."""
    if (
        isinstance(node, ast.RenameStmt)
        and node.renameType == OBJ.OBJECT_COLUMN
        and node.relationType == OBJ.OBJECT_TABLE
        and node.relation is not None
    ):
        return relname(node.relation), str(node.subname), str(node.newname)
    return None


def table_rename(node: Any) -> tuple[str, str] | None:
    """(old table, new table) of ``ALTER TABLE ... RENAME TO``; the new name keeps the schema."""
    if isinstance(node, ast.RenameStmt) and node.renameType == OBJ.OBJECT_TABLE and node.relation:
        old = relname(node.relation)
        schema = f"{node.relation.schemaname}." if node.relation.schemaname else ""
        return old, f"{schema}{node.newname}"
    return None


def column_reappears(ctx: MigrationContext, stmt: Statement, table: str, column: str) -> bool:
    """A later statement of the same transaction gives ``table`` a column named ``column`` again."""
    for later in same_transaction_after(ctx, stmt):
        renamed = column_renames(later.node)
        if renamed and bare(renamed[0]) == bare(table) and renamed[2] == column:
            return True
        for t, cmd in alter_cmds(later.node, AT.AT_AddColumn):
            coldef = cmd.def_
            if bare(t) == bare(table) and isinstance(coldef, ast.ColumnDef) and coldef.colname == column:
                return True
    return False


def column_vacated_before(ctx: MigrationContext, stmt: Statement, table: str, column: str) -> bool:
    """An earlier statement of the same transaction renamed ``table.column`` away (a swap)."""
    for earlier in same_transaction_before(ctx, stmt):
        renamed = column_renames(earlier.node)
        if renamed and bare(renamed[0]) == bare(table) and renamed[1] == column:
            return True
    return False


def relation_reappears(ctx: MigrationContext, stmt: Statement, name: str) -> Statement | None:
    """A later statement of the same transaction answers to ``name`` again: ``CREATE VIEW old``
    (a simple view passes reads and writes through), or a table renamed into it (a swap). A new
    empty table under the old name does not count: the old code would lose sight of its rows."""
    for later in same_transaction_after(ctx, stmt):
        renamed = table_rename(later.node)
        if renamed and bare(renamed[1]) == bare(name):
            return later
        if isinstance(later.node, ast.ViewStmt) and bare(relname(later.node.view)) == bare(name):
            return later
    return None


def relation_vacated_before(ctx: MigrationContext, stmt: Statement, name: str) -> bool:
    for earlier in same_transaction_before(ctx, stmt):
        renamed = table_rename(earlier.node)
        if renamed and bare(renamed[0]) == bare(name):
            return True
    return False


def post_deploy(ctx: MigrationContext) -> bool:
    """The migration declares it runs after every pod of the previous release is gone."""
    return (ctx.migration.phase_marker or "").strip().lower() == "post-deploy"
