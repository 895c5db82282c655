"""Small readers over pglast nodes shared by rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast, enums
from pglast.stream import RawStream

from ..parsing.postgres import relname

AT = enums.AlterTableType
CON = enums.ConstrType


def alter_cmds(node: Any, *subtypes: Any) -> Iterator[tuple[str, Any]]:
    """(table, cmd) for ALTER TABLE subcommands of the given kinds."""
    if isinstance(node, ast.AlterTableStmt) and node.objtype == enums.ObjectType.OBJECT_TABLE:
        table = relname(node.relation)
        for cmd in node.cmds or ():
            if cmd.subtype in subtypes:
                yield table, cmd


def column_constraints(coldef: Any) -> list[Any]:
    return list(getattr(coldef, "constraints", None) or ())


def has_constraint(coldef: Any, kind: Any) -> bool:
    return any(c.contype == kind for c in column_constraints(coldef))


def clone(value: Any) -> Any:
    """A deep copy of a pglast tree, several times cheaper than ``copy.deepcopy``.

    pglast nodes validate every attribute assignment; a copy of an already valid
    tree can skip that. Strings, numbers and enums are immutable and shared.
    """
    if isinstance(value, ast.Node):
        new = object.__new__(type(value))
        for name in getattr(type(value), "__slots__", ()):
            object.__setattr__(new, name, clone(getattr(value, name, None)))
        return new
    if isinstance(value, (tuple, list)):
        return type(value)(clone(item) for item in value)
    return value


def deparse(node: Any) -> str:
    return str(RawStream()(node))


def concurrent_index_sql(node: Any) -> tuple[str, str]:
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS for ``node``, and its DROP."""
    copied = clone(node)
    copied.concurrent = True
    copied.if_not_exists = True
    name = node.idxname or ""
    return deparse(copied), f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"'


def char_flag(value: Any) -> bool:
    """pglast renders unset char fields (identity, generated, ...) as '\\x00'."""
    return bool(value) and value != "\x00"
