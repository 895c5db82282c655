"""PostgreSQL statements through pglast (the server's own parser) and the locks they take."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import pglast
from pglast import ast, enums

from .statement import Lock, TableLock

AT = enums.AlterTableType
CON = enums.ConstrType
OBJ = enums.ObjectType

# ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE
# (PostgreSQL docs, "ALTER TABLE": each form's lock level; RULES.md section 1.3).
_ALTER_TABLE_LOCKS: dict[Any, Lock] = {
    AT.AT_SetStatistics: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ValidateConstraint: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ClusterOn: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_DropCluster: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_SetOptions: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_ResetOptions: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_AttachPartition: Lock.SHARE_UPDATE_EXCLUSIVE,
    AT.AT_EnableTrig: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_EnableAlwaysTrig: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_EnableReplicaTrig: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_EnableTrigAll: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_EnableTrigUser: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_DisableTrig: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_DisableTrigAll: Lock.SHARE_ROW_EXCLUSIVE,
    AT.AT_DisableTrigUser: Lock.SHARE_ROW_EXCLUSIVE,
}


def relname(rangevar: Any) -> str:
    if rangevar is None:
        return "?"
    if rangevar.schemaname:
        return f"{rangevar.schemaname}.{rangevar.relname}"
    return str(rangevar.relname)


def _names(obj: Any) -> str:
    """Dotted name from a list of String nodes (DROP objects)."""
    if isinstance(obj, (list, tuple)):
        return ".".join(getattr(p, "sval", str(p)) for p in obj)
    return getattr(obj, "sval", str(obj))


def _constraint_lock(con: Any) -> Lock:
    if con is not None and con.contype == CON.CONSTR_FOREIGN:
        # ADD FOREIGN KEY: SHARE ROW EXCLUSIVE on both tables (PG >= 9.5).
        return Lock.SHARE_ROW_EXCLUSIVE
    return Lock.ACCESS_EXCLUSIVE


def locks_of(node: Any) -> list[TableLock]:
    """Table locks a statement takes on relations that may already exist."""
    if isinstance(node, ast.AlterTableStmt):
        table = relname(node.relation)
        strongest = Lock.ACCESS_SHARE
        extra: list[TableLock] = []
        for cmd in node.cmds or ():
            if cmd.subtype == AT.AT_AddConstraint:
                lock = _constraint_lock(cmd.def_)
                if cmd.def_ is not None and cmd.def_.contype == CON.CONSTR_FOREIGN:
                    extra.append(TableLock(relname(cmd.def_.pktable), Lock.SHARE_ROW_EXCLUSIVE))
            elif cmd.subtype == AT.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
                lock = Lock.SHARE_UPDATE_EXCLUSIVE
                extra.append(TableLock(relname(cmd.def_.name), Lock.SHARE_UPDATE_EXCLUSIVE))
            elif cmd.subtype in (AT.AT_AttachPartition, AT.AT_DetachPartition):
                # The partition itself: ACCESS EXCLUSIVE (and a scan on ATTACH without a
                # CHECK implying the bound), RULES.md attach_partition / detach_partition.
                lock = _ALTER_TABLE_LOCKS.get(cmd.subtype, Lock.ACCESS_EXCLUSIVE)
                if getattr(cmd.def_, "name", None) is not None:
                    extra.append(TableLock(relname(cmd.def_.name), Lock.ACCESS_EXCLUSIVE))
            elif cmd.subtype == AT.AT_AddColumn:
                lock = Lock.ACCESS_EXCLUSIVE
                for con in getattr(cmd.def_, "constraints", None) or ():
                    if con.contype == CON.CONSTR_FOREIGN:
                        extra.append(TableLock(relname(con.pktable), Lock.SHARE_ROW_EXCLUSIVE))
            else:
                lock = _ALTER_TABLE_LOCKS.get(cmd.subtype, Lock.ACCESS_EXCLUSIVE)
            strongest = max(strongest, lock)
        if node.objtype == OBJ.OBJECT_INDEX:
            return [TableLock(table, Lock.SHARE_UPDATE_EXCLUSIVE)]
        return [TableLock(table, strongest), *extra]
    if isinstance(node, ast.IndexStmt):
        lock = Lock.SHARE_UPDATE_EXCLUSIVE if node.concurrent else Lock.SHARE
        return [TableLock(relname(node.relation), lock)]
    if isinstance(node, ast.DropStmt):
        if node.removeType == OBJ.OBJECT_INDEX:
            lock = Lock.SHARE_UPDATE_EXCLUSIVE if node.concurrent else Lock.ACCESS_EXCLUSIVE
            return [TableLock(_names(o), lock) for o in node.objects or ()]
        if node.removeType in (OBJ.OBJECT_TABLE, OBJ.OBJECT_VIEW, OBJ.OBJECT_MATVIEW, OBJ.OBJECT_SEQUENCE):
            return [TableLock(_names(o), Lock.ACCESS_EXCLUSIVE) for o in node.objects or ()]
        return []
    if isinstance(node, ast.RenameStmt):
        if node.renameType == OBJ.OBJECT_INDEX:
            return [TableLock(relname(node.relation), Lock.SHARE_UPDATE_EXCLUSIVE)]
        if node.relation is not None:
            return [TableLock(relname(node.relation), Lock.ACCESS_EXCLUSIVE)]
        return []
    if isinstance(node, ast.TruncateStmt):
        return [TableLock(relname(r), Lock.ACCESS_EXCLUSIVE) for r in node.relations or ()]
    if isinstance(node, (ast.UpdateStmt, ast.DeleteStmt, ast.InsertStmt, ast.MergeStmt)):
        return [TableLock(relname(node.relation), Lock.ROW_EXCLUSIVE)]
    if isinstance(node, ast.LockStmt):
        mode = Lock(int(node.mode or Lock.ACCESS_EXCLUSIVE))
        return [TableLock(relname(r), mode) for r in node.relations or ()]
    if isinstance(node, ast.VacuumStmt):
        full = any(getattr(o, "defname", "") == "full" for o in node.options or ())
        lock = Lock.ACCESS_EXCLUSIVE if full else Lock.SHARE_UPDATE_EXCLUSIVE
        return [TableLock(relname(r.relation), lock) for r in node.rels or ()]
    if isinstance(node, ast.ClusterStmt):
        return [TableLock(relname(node.relation), Lock.ACCESS_EXCLUSIVE)] if node.relation else []
    if isinstance(node, ast.ReindexStmt):
        concurrently = any(getattr(o, "defname", "") == "concurrently" for o in node.params or ())
        target = relname(node.relation) if node.relation else (node.name or "?")
        return [TableLock(target, Lock.SHARE_UPDATE_EXCLUSIVE if concurrently else Lock.SHARE)]
    if isinstance(node, ast.CreateTrigStmt):
        return [TableLock(relname(node.relation), Lock.SHARE_ROW_EXCLUSIVE)]
    if isinstance(node, ast.CommentStmt):
        return []
    if isinstance(node, ast.RefreshMatViewStmt):
        lock = Lock.EXCLUSIVE if node.concurrent else Lock.ACCESS_EXCLUSIVE
        return [TableLock(relname(node.relation), lock)]
    if isinstance(node, ast.CreateStmt):
        # The new table is invisible to others; inline REFERENCES lock the target.
        refs = []
        for elt in node.tableElts or ():
            cons = elt.constraints if isinstance(elt, ast.ColumnDef) else [elt]
            for con in cons or ():
                if isinstance(con, ast.Constraint) and con.contype == CON.CONSTR_FOREIGN:
                    refs.append(TableLock(relname(con.pktable), Lock.SHARE_ROW_EXCLUSIVE))
        return refs
    return []


_trusted_depth = 0


@contextmanager
def trusted_nodes() -> Iterator[None]:
    """Let pglast's parser build its nodes without re-checking every attribute.

    ``Node.__setattr__`` validates and coerces each value assigned to a node, about three
    quarters of what ``parse_sql`` costs; the values the parser assigns already have the
    types it checks for (tests/test_pglast_shortcuts.py compares both ways), so inside this
    block plain slot assignment is used and the trees are the same. Only the parser may
    build nodes inside it: nodes built by hand keep their checks outside. Changing the
    class attribute costs about 0.1 ms (every node class is updated), so the block wraps
    a whole phase (the collection walk), not each parse. Re-entrant.

    ``Boolean`` keeps its check: the parser builds the one of an ``A_Const`` (``true``)
    from a C int, which the check turns into a bool.
    """
    global _trusted_depth
    checked = ast.Node.__dict__.get("__setattr__")
    if checked is None or _trusted_depth:
        _trusted_depth += 1
        try:
            yield
        finally:
            _trusted_depth -= 1
        return
    _trusted_depth = 1
    del ast.Node.__setattr__  # type: ignore[misc]
    ast.Boolean.__setattr__ = checked  # type: ignore[method-assign]
    try:
        yield
    finally:
        del ast.Boolean.__setattr__  # type: ignore[misc]
        ast.Node.__setattr__ = checked  # type: ignore[method-assign]
        _trusted_depth = 0


@lru_cache(maxsize=8192)
def parse(text: str) -> tuple[Any, ...]:
    """pglast.parse_sql, memoised: the catalogue and the rules read the same statements.

    The nodes are shared: callers must not mutate them (copy first).
    """
    return tuple(pglast.parse_sql(text))


def _clip(data: str, start: int | None, length: int | None) -> str:
    # pglast 8 reports character offsets (not bytes) for statement locations.
    start = start or 0
    end = len(data) if not length else start + length
    return data[start:end].strip()


def parse_items(text: str) -> Iterator[tuple[str, Any, str | None, list[TableLock]]]:
    """(statement text, node, parse error, locks) for each statement in ``text``."""
    try:
        parsed = parse(text)
    except pglast.parser.ParseError:
        yield from _parse_one_by_one(text)
        return
    data = text
    for raw in parsed:
        sql = _clip(data, raw.stmt_location, raw.stmt_len)
        yield sql, raw.stmt, None, locks_of(raw.stmt)


def _parse_one_by_one(text: str) -> Iterator[tuple[str, Any, str | None, list[TableLock]]]:
    """Each piece of ``text`` on its own: parsed, or reported with the parser's message.

    ``pglast.split(with_parser=False)`` drops a piece that starts with no keyword it
    knows (``SELEC 1``, ``FOO bar``): such SQL would go unchecked and unreported while
    the server rejects it at deploy. So the pieces come from the scanner's own
    semicolons, and every piece holding anything but comments is accounted for.
    """
    pieces = _pieces(text)
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        try:
            parsed = parse(piece)
        except pglast.parser.ParseError as exc:
            # A semicolon inside a statement (a BEGIN ATOMIC function body) splits it:
            # the piece and the ones after it may parse together.
            joined = _rejoin(pieces, i)
            if joined is None:
                yield piece.strip(), None, str(exc), []
                i += 1
                continue
            piece, parsed, i = joined[0], joined[1], joined[2]
        else:
            i += 1
        for raw in parsed:
            yield _clip(piece, raw.stmt_location, raw.stmt_len), raw.stmt, None, locks_of(raw.stmt)


_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_REJOIN_SPAN = 32


def _pieces(text: str) -> list[str]:
    """The text between top-level semicolons (the scanner keeps quoted ones inside their
    string), without the pieces that hold only whitespace and comments."""
    try:
        tokens = list(pglast.parser.scan(text))
    except Exception:  # noqa: BLE001 - the scanner failed too: the whole text is one error
        return [text]
    pieces: list[str] = []
    start = 0
    meaningful = False
    for token in tokens:
        if token.name == "ASCII_59":  # ';'
            if meaningful:
                pieces.append(text[start : token.start])
            start, meaningful = token.end + 1, False
        elif token.name not in _COMMENTS:
            meaningful = True
    if meaningful:
        pieces.append(text[start:])
    return pieces


def _rejoin(pieces: list[str], first: int) -> tuple[str, tuple[Any, ...], int] | None:
    """The shortest run of pieces from ``first`` on that parses as a whole (text, nodes,
    index of the piece after it), or None. A statement split by its own semicolons
    rarely spans many pieces: the search stops after _REJOIN_SPAN of them."""
    for last in range(first + 1, min(len(pieces), first + 1 + _REJOIN_SPAN)):
        text = ";".join(pieces[first : last + 1])
        try:
            return text, parse(text), last + 1
        except pglast.parser.ParseError:
            continue
    return None


def func_name(node: Any) -> str:
    """The unqualified, lower-case name of a FuncCall (the parser already folds unquoted names)."""
    parts = [getattr(p, "sval", "") for p in node.funcname or ()]
    return (parts[-1] if parts else "").lower()
