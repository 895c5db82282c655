"""Readers shared by the constraint and index rules (SM102-SM107, SM113, SM115, SM120).

Two facts here span statements and belong in the context eventually: which statements
were sent to the server in one ``execute`` (PostgreSQL runs such a string as one
implicit transaction), and which constraints/indexes were created earlier in the
migration. They are computed from the collected migration, never from raw SQL text.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..facts import CollectedStatement
from ..parsing.postgres import parse_items, relname
from ..parsing.statement import Statement
from ..pgnames import implicit_constraint_name
from ._ast import AT, CON, deparse
from ._ast import clone as _clone

OBJ = enums.ObjectType

# Column-constraint attributes PostgreSQL's grammar emits as separate list items;
# they apply to the constraint just before them (transformConstraintAttrs).
_ATTRS = {
    CON.CONSTR_ATTR_DEFERRABLE: ("deferrable", True),
    CON.CONSTR_ATTR_NOT_DEFERRABLE: ("deferrable", False),
    CON.CONSTR_ATTR_DEFERRED: ("initdeferred", True),
    CON.CONSTR_ATTR_IMMEDIATE: ("initdeferred", False),
    CON.CONSTR_ATTR_ENFORCED: ("is_enforced", True),
    CON.CONSTR_ATTR_NOT_ENFORCED: ("is_enforced", False),
}


# -- transactions -------------------------------------------------------------------


@lru_cache(maxsize=128)
def _item_sizes(items: tuple[CollectedStatement, ...]) -> tuple[int, ...]:
    return tuple(sum(1 for _ in parse_items(item.sql)) for item in items)


def batches(ctx: MigrationContext) -> dict[int, int]:
    """Statement index -> number of the ``execute`` call that sent it.

    Django's PostgreSQL backend does not split a RunSQL string
    (``DatabaseOperations.prepare_sql_script`` returns it whole), and Django itself
    sends ``ADD COLUMN ...; SET CONSTRAINTS ...`` together: several statements in one
    call run in one implicit transaction, even in an ``atomic = False`` migration.
    """
    out: dict[int, int] = {}
    position = 0
    for number, size in enumerate(_item_sizes(ctx.migration.statements)):
        for _ in range(size):
            out[position] = number
            position += 1
    if position != len(ctx.statements):  # should not happen: each statement on its own
        return {s.index: s.index for s in ctx.statements}
    return out


def batch_mates(ctx: MigrationContext, stmt: Statement) -> list[Statement]:
    """The statements sent in the same ``execute`` as ``stmt`` (itself included)."""
    numbers = batches(ctx)
    mine = numbers.get(stmt.index)
    return [s for s in ctx.statements if numbers.get(s.index) == mine]


def transaction_reason(ctx: MigrationContext, stmt: Statement) -> str | None:
    """Why ``stmt`` runs inside a transaction block, or None when it autocommits alone."""
    if ctx.migration.atomic:
        return "atomic-migration"
    if stmt.operation.atomic:
        return "atomic-operation"
    if len(batch_mates(ctx, stmt)) > 1:
        return "batch"
    return None


def same_transaction(ctx: MigrationContext, first: Statement, second: Statement) -> bool:
    if first.index == second.index:
        return True
    if ctx.transaction_of(first) == ctx.transaction_of(second):
        return True
    numbers = batches(ctx)
    return numbers.get(first.index) == numbers.get(second.index)


# -- constraints --------------------------------------------------------------------


def column_constraints(coldef: Any) -> list[Any]:
    """A column's constraints with DEFERRABLE/INITIALLY/ENFORCED folded into each."""
    out: list[Any] = []
    for con in getattr(coldef, "constraints", None) or ():
        attr = _ATTRS.get(con.contype)
        if attr is None:
            out.append(copy.copy(con))  # only top-level flags are set on the copy
        elif out:
            setattr(out[-1], attr[0], attr[1])
    return out


_ADDED: dict[int, tuple[Any, list[tuple[str, Any, Any, str | None]]]] = {}


def added_constraints(node: Any) -> Iterator[tuple[str, Any, Any, str | None]]:
    """(table, cmd, constraint, column) for every constraint an ALTER TABLE adds.

    ``column`` is set for an inline constraint of ``ADD COLUMN``. A dozen rules ask the
    same question of every statement: the answer is kept per node (node held, so its id
    stays its own).
    """
    if not isinstance(node, ast.AlterTableStmt) or node.objtype != OBJ.OBJECT_TABLE:
        return
    cached = _ADDED.get(id(node))
    if cached is None or cached[0] is not node:
        if len(_ADDED) > 50_000:
            _ADDED.clear()
        cached = (node, list(_added_constraints(node)))
        _ADDED[id(node)] = cached
    yield from cached[1]


def _added_constraints(node: Any) -> Iterator[tuple[str, Any, Any, str | None]]:
    table = relname(node.relation)
    for cmd in node.cmds or ():
        if cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            yield table, cmd, cmd.def_, None
        elif cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            for con in column_constraints(cmd.def_):
                yield table, cmd, con, str(cmd.def_.colname)


def enforced(con: Any) -> bool:
    """False only for PostgreSQL 18's NOT ENFORCED CHECK / FOREIGN KEY (nothing is checked)."""
    if con.contype in (CON.CONSTR_CHECK, CON.CONSTR_FOREIGN):
        return bool(getattr(con, "is_enforced", True))
    return True


def constraint_name(table: str, con: Any, column: str | None, label: str) -> str:
    """The constraint's name, or the one PostgreSQL gives an unnamed one."""
    if con.conname:
        return str(con.conname)
    if column:
        columns = [column]
    elif con.contype == CON.CONSTR_CHECK:
        # AddRelationNewConstraints: "tab_col_check" when the expression uses one column only.
        used = set(_column_refs(con.raw_expr))
        columns = list(used) if len(used) == 1 else []
    elif con.contype == CON.CONSTR_EXCLUSION:
        # ChooseIndexColumnNames: the column, or "expr" for an expression.
        columns = [str(elem.name or "expr") for elem, _ in con.exclusions or ()]
    else:
        columns = names(con.keys or con.fk_attrs)
    return implicit_constraint_name(table.split(".")[-1], columns, label)


def _column_refs(node: Any) -> Iterator[str]:
    if isinstance(node, ast.ColumnRef):
        last = (node.fields or (None,))[-1]
        if isinstance(last, ast.String):
            yield str(last.sval)
    elif isinstance(node, ast.Node):
        for attr in node:
            yield from _column_refs(getattr(node, attr))
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _column_refs(item)


def names(items: Any) -> list[str]:
    return [getattr(i, "sval", str(i)) for i in items or ()]


def created_before(ctx: MigrationContext, stmt: Statement, table: str, name: str) -> bool:
    """Was constraint ``name`` on ``table`` created earlier in this migration?"""
    for earlier in ctx.statements[: stmt.index]:
        node = earlier.node
        if isinstance(node, ast.CreateStmt) and relname(node.relation) == table:
            for elt in node.tableElts or ():
                cons = column_constraints(elt) if isinstance(elt, ast.ColumnDef) else [elt]
                if any(getattr(c, "conname", None) == name for c in cons):
                    return True
        for t, _, con, _ in added_constraints(node):
            if t == table and con.conname == name:
                return True
        if isinstance(node, ast.IndexStmt) and node.idxname == name:
            return True  # ADD CONSTRAINT ... USING INDEX renames it; a unique index is one too
    return False


def not_valid_added(ctx: MigrationContext, stmt: Statement, table: str, name: str) -> Statement | None:
    """The latest statement up to ``stmt`` that adds ``name`` on ``table`` as NOT VALID."""
    found = None
    for earlier in ctx.statements[: stmt.index + 1]:
        for t, _, con, _ in added_constraints(earlier.node):
            if t == table and con.conname == name and con.skip_validation:
                found = earlier
    return found


# -- indexes ------------------------------------------------------------------------


def index_table(ctx: MigrationContext, stmt: Statement, index: str) -> str | None:
    """The table of ``index``: from a CREATE INDEX earlier in the migration, or the model."""
    bare = index.split(".")[-1]
    for earlier in ctx.statements[: stmt.index]:
        node = earlier.node
        if isinstance(node, ast.IndexStmt) and node.idxname == bare:
            return relname(node.relation)
    model = stmt.operation.model_before or stmt.operation.model_after
    return model.db_table if model is not None else None


def dropped_indexes(node: Any) -> list[str]:
    if isinstance(node, ast.DropStmt) and node.removeType == OBJ.OBJECT_INDEX:
        return [
            ".".join(names(obj)) if isinstance(obj, (list, tuple)) else str(obj) for obj in node.objects or ()
        ]
    return []


def is_concurrent(node: Any) -> bool:
    """A statement PostgreSQL refuses inside a transaction block because of CONCURRENTLY."""
    if isinstance(node, ast.IndexStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.DropStmt):
        return node.removeType == OBJ.OBJECT_INDEX and bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return reindex_concurrently(node)
    if isinstance(node, ast.AlterTableStmt):
        return any(
            cmd.subtype == AT.AT_DetachPartition and getattr(cmd.def_, "concurrent", False)
            for cmd in node.cmds or ()
        )
    return False


def reindex_concurrently(node: Any) -> bool:
    return any(getattr(o, "defname", "") == "concurrently" for o in node.params or ())


# -- SQL rewrites for the fixes (deparsed from the parse tree, never string surgery) --


def _alter(relation: Any, *cmds: Any) -> Any:
    return ast.AlterTableStmt(relation=relation, objtype=OBJ.OBJECT_TABLE, cmds=tuple(cmds))


def add_constraint_sql(relation: Any, con: Any) -> str:
    return deparse(
        _alter(
            relation,
            ast.AlterTableCmd(
                subtype=AT.AT_AddConstraint, def_=con, behavior=enums.DropBehavior.DROP_RESTRICT
            ),
        )
    )


def add_column_without(node: Any, cmd: Any, drop: Any) -> str:
    """``node`` (an ALTER TABLE) with constraint ``drop`` removed from ``cmd``'s column."""
    clone = _clone(node)
    index = list(node.cmds).index(cmd)
    coldef = clone.cmds[index].def_
    kept = []
    skipping = False
    for con in coldef.constraints or ():
        if con.contype in _ATTRS:
            if not skipping:
                kept.append(con)
            continue
        skipping = con.contype == drop.contype and con.conname == drop.conname
        if not skipping:
            kept.append(con)
    coldef.constraints = tuple(kept) or None
    return deparse(clone)


def not_valid_sql(relation: Any, con: Any, column: str | None, name: str) -> str:
    """ALTER TABLE ... ADD CONSTRAINT name ... NOT VALID for a CHECK or FOREIGN KEY."""
    clone = _clone(con)
    clone.conname = name
    clone.skip_validation = True
    clone.initially_valid = False
    if clone.contype == CON.CONSTR_FOREIGN and column and not clone.fk_attrs:
        clone.fk_attrs = (ast.String(sval=column),)
    return add_constraint_sql(relation, clone)


def unique_index_sql(relation: Any, con: Any, column: str | None, name: str) -> tuple[str, str, str]:
    """(CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS, its DROP, ADD CONSTRAINT ... USING INDEX)."""

    def elem(column_name: str) -> Any:
        return ast.IndexElem(
            name=column_name,
            ordering=enums.SortByDir.SORTBY_DEFAULT,
            nulls_ordering=enums.SortByNulls.SORTBY_NULLS_DEFAULT,
        )

    keys = [column] if column else names(con.keys)
    including = names(con.including)
    index = ast.IndexStmt(
        idxname=name,
        relation=relation,
        accessMethod="btree",
        indexParams=tuple(elem(k) for k in keys),
        indexIncludingParams=tuple(elem(k) for k in including) or None,
        unique=True,
        concurrent=True,
        if_not_exists=True,
        nulls_not_distinct=bool(con.nulls_not_distinct),
    )
    attach = ast.Constraint(
        contype=CON.CONSTR_UNIQUE,
        conname=name,
        indexname=name,
        deferrable=bool(con.deferrable),
        initdeferred=bool(con.initdeferred),
    )
    drop = f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'
    return deparse(index), drop, add_constraint_sql(relation, attach)
