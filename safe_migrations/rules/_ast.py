"""Small readers over pglast nodes shared by rules."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from pglast import ast, enums, visitors
from pglast.stream import RawStream

from ..parsing.postgres import relname

# Printers read node.ancestors, which RawStream.__call__ fills with populate_ancestors first.
Ancestor: Any = getattr(visitors, "Ancestor", None) if hasattr(visitors, "populate_ancestors") else None

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
    """The SQL of ``node``, as ``RawStream()(node)`` prints it.

    RawStream first sets the ``ancestors`` of every node of the tree with a generic
    Visitor (two thirds of the time for the small trees the rules print);
    _populate_ancestors sets the same chains directly.
    """
    if not isinstance(node, ast.Node) or Ancestor is None:
        return str(RawStream()(node))
    if isinstance(node, ast.RawStmt) and node.stmt is None:
        return ""
    _populate_ancestors(node)
    stream = RawStream()
    stream.print_node(node)
    return str(stream.getvalue())


def _populate_ancestors(root: Any) -> None:
    """pglast.visitors.populate_ancestors((root,)): the same breadth-first walk, setting the
    same Ancestor chains (a node reached twice keeps the last one), minus the Visitor."""
    setter = object.__setattr__
    todo: deque[tuple[Any, Any]] = deque([(Ancestor(), (root,))])

    def visit(ancestors: Any, node: Any) -> None:
        setter(node, "ancestors", ancestors)
        for member in node:
            value = getattr(node, member)
            if isinstance(value, (tuple, ast.Node)):
                todo.append((Ancestor(ancestors, node, member), value))

    while todo:
        ancestors, node = todo.popleft()
        if not isinstance(node, tuple):
            visit(ancestors, node)
            continue
        for index, item in enumerate(node):
            here = Ancestor(ancestors, node, index)
            if isinstance(item, ast.Node):
                visit(here, item)
            elif isinstance(item, tuple):
                for sub_index, value in enumerate(item):
                    if isinstance(value, (tuple, ast.Node)):
                        todo.append((Ancestor(here, item, sub_index), value))


_CONCURRENT: dict[int, tuple[Any, tuple[str, str]]] = {}


def concurrent_index_sql(node: Any) -> tuple[str, str]:
    """CREATE INDEX CONCURRENTLY IF NOT EXISTS for ``node``, and its DROP.

    Several rules' fixes ask it of the same CREATE INDEX: the answer is kept per node
    (node held, so its id stays its own; parse trees are shared and never mutated).
    """
    cached = _CONCURRENT.get(id(node))
    if cached is None or cached[0] is not node:
        if len(_CONCURRENT) > 50_000:
            _CONCURRENT.clear()
        # Only the statement's own flags change: its children are shared, not copied.
        copied = object.__new__(type(node))
        for name in type(node).__slots__:
            object.__setattr__(copied, name, getattr(node, name))
        copied.concurrent = True
        copied.if_not_exists = True
        drop = f'DROP INDEX CONCURRENTLY IF EXISTS "{node.idxname or ""}"'
        cached = (node, (deparse(copied), drop))
        _CONCURRENT[id(node)] = cached
    return cached[1]


def char_flag(value: Any) -> bool:
    """pglast renders unset char fields (identity, generated, ...) as '\\x00'."""
    return bool(value) and value != "\x00"
