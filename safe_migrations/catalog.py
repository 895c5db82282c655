"""An offline catalogue of constraints and indexes, kept from the SQL a run generates.

Offline there is no pg_constraint/pg_index to introspect, and names depend on
history: a renamed table or column keeps the constraint names it was created
with, an inline UNIQUE is named by PostgreSQL (``<table>_<col>_key``) while one
added later is named by Django. So every statement the run generates is applied
here (parsed with pglast), and Django's ``_constraint_names`` is answered from it
with the rows PostgreSQL's introspection would return.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pglast
from pglast import ast, enums

from .parsing.postgres import parse
from .pgnames import implicit_constraint_name

AT = enums.AlterTableType
CON = enums.ConstrType
OBJ = enums.ObjectType

Info = dict[str, Any]


def _rel(rangevar: Any) -> str:
    return str(getattr(rangevar, "relname", "") or "")


def _expr_columns(node: Any) -> list[str]:
    """Columns a CHECK expression references (PostgreSQL's conkey), in order of appearance."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, ast.ColumnRef):
            name = getattr((value.fields or [None])[-1], "sval", None)
            if name and name not in found:
                found.append(name)
        elif isinstance(value, ast.Node):
            for attr in value:
                walk(getattr(value, attr))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(node)
    return found


def not_null_test_column(expr: Any) -> str | None:
    """The column of a CHECK expression that is exactly ``col IS NOT NULL``."""
    if (
        isinstance(expr, ast.NullTest)
        and expr.nulltesttype == enums.NullTestType.IS_NOT_NULL
        and isinstance(expr.arg, ast.ColumnRef)
    ):
        fields = expr.arg.fields or ()
        return str(getattr(fields[-1], "sval", "")) or None if fields else None
    return None


def _not_null_column(expr: Any) -> str | None:
    """The column of ``col IS NOT NULL``, alone or as one term of an AND."""
    if isinstance(expr, ast.BoolExpr) and expr.boolop == enums.BoolExprType.AND_EXPR:
        for arg in expr.args or ():
            found = _not_null_column(arg)
            if found:
                return found
        return None
    return not_null_test_column(expr)


def _info(columns: list[Any], **flags: Any) -> Info:
    info: Info = {
        "columns": columns,
        "primary_key": False,
        "unique": False,
        "foreign_key": None,
        "check": False,
        "index": False,
        "type": None,
    }
    info.update(flags)
    return info


def _index_keys(index: Info | None) -> tuple[str, ...]:
    """Key columns of a catalogue index (not its INCLUDE columns); () if unknown or an
    expression (PostgreSQL refuses USING INDEX on one)."""
    if index is None or not index["index"]:
        return ()
    keys = index["columns"][: index.get("keys", len(index["columns"]))]
    return tuple(keys) if keys and all(keys) else ()


class Catalog:
    """Tables created during this run, with their constraints and indexes by name."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Info]] = {}
        # Tables whose CREATE TABLE this run saw: their entries are complete. Other
        # tables only hold what hand-written SQL of unlinted migrations added.
        self.complete: set[str] = set()
        # Sequences owned by a column (serial or identity): table -> column -> name.
        self.sequences: dict[str, dict[str, str]] = {}
        self.extensions: set[str] = set()
        self.collations: dict[str, bool] = {}  # name -> deterministic
        # Names in use, for PostgreSQL's clash avoidance (pkey1, key1, ...): relations
        # (tables, indexes, sequences) and constraints share one namespace each.
        self.relation_names: set[str] = set()
        self.constraint_names: set[str] = set()

    def _choose(self, table: str, columns: list[str], label: str, relation: bool) -> str:
        """ChooseRelationName/ChooseConstraintName: add 1, 2, ... to the label on a clash."""
        used = self.relation_names if relation else self.constraint_names
        name = implicit_constraint_name(table, columns, label)
        attempt = 0
        while name in used:
            attempt += 1
            name = implicit_constraint_name(table, columns, f"{label}{attempt}")
        return name

    def sequence(self, table: str, column: str) -> str | None:
        return self.sequences.get(table, {}).get(column)

    def _column_sequence(self, table: str, coldef: Any) -> None:
        names = [getattr(n, "sval", "") for n in (coldef.typeName.names if coldef.typeName else ())]
        serial = bool(names) and names[-1] in (
            "serial",
            "bigserial",
            "smallserial",
            "serial4",
            "serial8",
            "serial2",
        )
        identity = any(c.contype == CON.CONSTR_IDENTITY for c in coldef.constraints or ())
        if serial or identity:
            name = self._choose(table, [coldef.colname], "seq", relation=True)
            self.relation_names.add(name)
            self.sequences.setdefault(table, {})[coldef.colname] = name

    def knows(self, table: str) -> bool:
        return table in self.complete

    def constraints(self, table: str) -> dict[str, Info]:
        """In introspection's order: constraints as created, then indexes by name (bytewise,
        the order of PostgreSQL's GROUP BY over the ``name`` type)."""
        entries = self.tables.get(table, {})
        ordered = {n: i for n, i in entries.items() if not i["index"]}
        for name in sorted((n for n, i in entries.items() if i["index"]), key=lambda n: n.encode()):
            ordered[name] = entries[name]
        return ordered

    def parents_locked(self, sql: str) -> tuple[str, ...]:
        """Tables that ``sql`` (not yet applied) locks ACCESS EXCLUSIVE through a foreign key.

        Dropping a table, a foreign key constraint or a column carrying one removes
        the FK's triggers on the referenced table, which takes ACCESS EXCLUSIVE there
        (RULES.md, measured: drop_fk_constraint, drop_table_referenced_child).
        """
        try:
            parsed = parse(sql)
        except pglast.parser.ParseError:
            return ()
        found: list[str] = []
        for raw in parsed:
            node = raw.stmt
            if isinstance(node, ast.DropStmt) and node.removeType == OBJ.OBJECT_TABLE:
                for obj in node.objects or ():
                    parts = obj if isinstance(obj, (list, tuple)) else [obj]
                    table = ".".join(str(getattr(p, "sval", p)) for p in parts)
                    found += self._fk_targets(table, lambda name, info: True)
            elif isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
                table = _rel(node.relation)
                for cmd in node.cmds or ():
                    if cmd.subtype == AT.AT_DropConstraint:
                        found += self._fk_targets(table, lambda name, info, c=cmd: name == c.name)
                    elif cmd.subtype == AT.AT_DropColumn:
                        found += self._fk_targets(table, lambda name, info, c=cmd: c.name in info["columns"])
        return tuple(dict.fromkeys(found))

    def proven_not_null(self, sql: str) -> tuple[str, ...]:
        """``table.column`` of each SET NOT NULL in ``sql`` that a validated CHECK
        (column IS NOT NULL) already proves, so PostgreSQL 12+ skips the scan. A primary
        key runs SET NOT NULL on its key columns itself (PostgreSQL docs, ALTER TABLE:
        ADD table_constraint_using_index): those count too."""
        found = []
        for table, entries, cmd in self._alter_table_commands(sql):
            if cmd.subtype == AT.AT_SetNotNull:
                columns = [cmd.name]
            elif self._is_primary_key(cmd):
                columns = self._key_columns(entries, cmd.def_)
            else:
                continue
            for column in columns:
                if any(i.get("valid") and i.get("not_null_of") == column for i in entries.values()):
                    found.append(f"{table}.{column}")
        return tuple(found)

    def _alter_table_commands(self, sql: str) -> Iterator[tuple[str, dict[str, Info], Any]]:
        """(table, what is known of it, command) of each ALTER TABLE command in ``sql``."""
        try:
            parsed = parse(sql)
        except pglast.parser.ParseError:
            return
        for raw in parsed:
            node = raw.stmt
            if isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
                table = _rel(node.relation)
                entries = self.tables.get(table, {})
                for cmd in node.cmds or ():
                    yield table, entries, cmd

    def index_columns(self, sql: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(index, key columns) of each index ``sql`` (not yet applied) attaches as a
        constraint with USING INDEX, when this run has seen the index built."""
        found = []
        for _, entries, cmd in self._alter_table_commands(sql):
            con = cmd.def_
            if cmd.subtype == AT.AT_AddConstraint and isinstance(con, ast.Constraint) and con.indexname:
                keys = _index_keys(entries.get(con.indexname))
                if keys:
                    found.append((str(con.indexname), keys))
        return tuple(found)

    @staticmethod
    def _is_primary_key(cmd: Any) -> bool:
        con = cmd.def_
        return (
            cmd.subtype == AT.AT_AddConstraint
            and isinstance(con, ast.Constraint)
            and con.contype == CON.CONSTR_PRIMARY
        )

    @staticmethod
    def _key_columns(entries: dict[str, Info], con: Any) -> list[str]:
        """Columns of ``PRIMARY KEY (...)`` or of the index of ``PRIMARY KEY USING INDEX``."""
        if con.indexname:
            return list(_index_keys(entries.get(con.indexname)))
        return [str(k.sval) for k in con.keys or ()]

    def _fk_targets(self, table: str, match: Any) -> list[str]:
        out = []
        for name, info in self.tables.get(table, {}).items():
            target = info["foreign_key"]
            if target is not None and target[0] != table and match(name, info):
                out.append(target[0])
        return out

    # Applying statements -------------------------------------------------

    def apply(self, sql: str) -> None:
        try:
            parsed = parse(sql)
        except pglast.parser.ParseError:
            return
        for raw in parsed:
            try:
                self._apply(raw.stmt)
            except (AttributeError, IndexError, TypeError):  # an unusual shape: ignore
                continue

    def _apply(self, node: Any) -> None:
        if isinstance(node, ast.CreateStmt):
            table = _rel(node.relation)
            self.tables[table] = {}
            self.complete.add(table)
            self.sequences[table] = {}
            self.relation_names.add(table)
            for elt in node.tableElts or ():
                if isinstance(elt, ast.ColumnDef):
                    self._column_sequence(table, elt)
                    for con in elt.constraints or ():
                        self._add_constraint(table, con, elt.colname)
                elif isinstance(elt, ast.Constraint):
                    self._add_constraint(table, elt, None)
        elif isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
            self._alter_table(_rel(node.relation), node)
        elif isinstance(node, ast.IndexStmt):
            self._add_index(node)
        elif isinstance(node, ast.RenameStmt):
            self._rename(node)
        elif isinstance(node, ast.DropStmt):
            self._drop(node)
        elif isinstance(node, ast.CreateExtensionStmt):
            self.extensions.add(str(node.extname))
        elif isinstance(node, ast.DefineStmt) and node.kind == OBJ.OBJECT_COLLATION:
            name = str(getattr((node.defnames or [None])[-1], "sval", ""))
            deterministic = True
            for item in node.definition or ():
                if getattr(item, "defname", "") == "deterministic":
                    value = getattr(item.arg, "sval", None) or getattr(item.arg, "boolval", None)
                    deterministic = str(value).lower() not in ("false", "0", "off", "no")
            self.collations.setdefault(name, deterministic)

    def _alter_table(self, table: str, node: Any) -> None:
        entries = self.tables.setdefault(table, {})
        for cmd in node.cmds or ():
            if cmd.subtype == AT.AT_AddIdentity:
                self.sequences.setdefault(table, {})[cmd.name] = implicit_constraint_name(
                    table, [cmd.name], "seq"
                )
            elif cmd.subtype == AT.AT_DropIdentity:
                self.sequences.get(table, {}).pop(cmd.name, None)
            elif cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                self._column_sequence(table, cmd.def_)
                for con in cmd.def_.constraints or ():
                    self._add_constraint(table, con, cmd.def_.colname)
            elif cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                self._add_constraint(table, cmd.def_, None)
            elif cmd.subtype == AT.AT_ValidateConstraint and cmd.name in entries:
                entries[cmd.name]["valid"] = True
            elif cmd.subtype == AT.AT_DropConstraint:
                entries.pop(cmd.name, None)
                self.constraint_names.discard(cmd.name)
                self.relation_names.discard(cmd.name)
            elif cmd.subtype == AT.AT_DropColumn:
                for name in [n for n, i in entries.items() if cmd.name in i["columns"]]:
                    del entries[name]
                self.sequences.get(table, {}).pop(cmd.name, None)

    def _add_constraint(self, table: str, con: Any, column: str | None) -> None:
        entries = self.tables.setdefault(table, {})
        keys = [k.sval for k in (con.keys or ())] or ([column] if column else [])
        kind = con.contype
        name: str | None = con.conname or None
        if kind == CON.CONSTR_PRIMARY:
            if con.indexname:  # ADD CONSTRAINT ... PRIMARY KEY USING INDEX
                index = entries.pop(con.indexname, None)
                keys = index["columns"] if index else keys
                name = name or con.indexname
            name = name or self._choose(table, [], "pkey", relation=True)
            entries[name] = _info(keys, primary_key=True, unique=True)
        elif kind == CON.CONSTR_UNIQUE:
            if con.indexname:
                index = entries.pop(con.indexname, None)
                keys = index["columns"] if index else keys
                name = name or con.indexname
            name = name or self._choose(table, keys, "key", relation=True)
            entries[name] = _info(keys, unique=True)
        elif kind == CON.CONSTR_CHECK:
            keys = [column] if column else _expr_columns(con.raw_expr)
            name = name or self._choose(table, keys[:1], "check", relation=False)
            entries[name] = _info(
                keys,
                check=True,
                not_null_of=_not_null_column(con.raw_expr),
                valid=not con.skip_validation,
            )
        elif kind == CON.CONSTR_FOREIGN:
            fk_cols = [k.sval for k in (con.fk_attrs or ())] or ([column] if column else [])
            target = (_rel(con.pktable), con.pk_attrs[0].sval if con.pk_attrs else "id")
            name = name or self._choose(table, fk_cols, "fkey", relation=False)
            entries[name] = _info(fk_cols, foreign_key=target)
        elif kind == CON.CONSTR_EXCLUSION and name:
            entries[name] = _info(keys)
        if name:
            self.constraint_names.add(name)
            if kind in (CON.CONSTR_PRIMARY, CON.CONSTR_UNIQUE, CON.CONSTR_EXCLUSION):
                self.relation_names.add(name)  # backed by an index of that name

    def _add_index(self, node: Any) -> None:
        table = _rel(node.relation)
        if not node.idxname:
            return
        self.tables.setdefault(table, {})
        columns = [p.name or None for p in node.indexParams or ()]
        keys = len(columns)  # INCLUDE columns follow: a primary key leaves them nullable
        columns += [p.name or None for p in node.indexIncludingParams or ()]
        if all(c is None for c in columns):
            columns = []
        method = node.accessMethod or "btree"
        basic = method == "btree" and not node.idxname.endswith("_btree") and not node.options
        self.relation_names.add(node.idxname)
        self.tables[table][node.idxname] = _info(
            columns, unique=bool(node.unique), index=True, type="idx" if basic else method, keys=keys
        )

    def _rename(self, node: Any) -> None:
        kind = node.renameType
        if kind == OBJ.OBJECT_TABLE:
            old, new = _rel(node.relation), node.newname
            self.relation_names.discard(old)
            self.relation_names.add(new)
            if old in self.tables:
                self.tables[new] = self.tables.pop(old)
            if old in self.complete:
                self.complete.discard(old)
                self.complete.add(new)
            if old in self.sequences:  # the sequence keeps its name, it follows the table
                self.sequences[new] = self.sequences.pop(old)
            for entries in self.tables.values():
                for info in entries.values():
                    fk = info["foreign_key"]
                    if fk and fk[0] == old:
                        info["foreign_key"] = (new, fk[1])
        elif kind == OBJ.OBJECT_COLUMN:
            table, old, new = _rel(node.relation), node.subname, node.newname
            for info in self.tables.get(table, {}).values():
                info["columns"] = [new if c == old else c for c in info["columns"]]
            owned = self.sequences.get(table, {})
            if old in owned:
                owned[new] = owned.pop(old)
            for entries in self.tables.values():
                for info in entries.values():
                    if info["foreign_key"] == (table, old):
                        info["foreign_key"] = (table, new)
        elif kind == OBJ.OBJECT_INDEX:
            old, new = _rel(node.relation), node.newname
            self.relation_names.discard(old)
            self.relation_names.add(new)
            for entries in self.tables.values():
                if old in entries:
                    entries[new] = entries.pop(old)
        elif kind == OBJ.OBJECT_TABCONSTRAINT:
            entries = self.tables.get(_rel(node.relation), {})
            self.constraint_names.discard(node.subname)
            self.constraint_names.add(node.newname)
            if node.subname in entries:
                entries[node.newname] = entries.pop(node.subname)

    def _drop(self, node: Any) -> None:
        names = []
        for obj in node.objects or ():
            parts = obj if isinstance(obj, (list, tuple)) else [obj]
            names.append(str(getattr(parts[-1], "sval", parts[-1])))
        self.relation_names.difference_update(names)
        if node.removeType == OBJ.OBJECT_TABLE:
            for name in names:
                for constraint in self.tables.get(name, {}):
                    self.constraint_names.discard(constraint)
                    self.relation_names.discard(constraint)
                self.tables.pop(name, None)
                self.complete.discard(name)
                self.sequences.pop(name, None)
        elif node.removeType == OBJ.OBJECT_EXTENSION:
            self.extensions.difference_update(names)
        elif node.removeType == OBJ.OBJECT_SEQUENCE:
            for owned in self.sequences.values():
                for column in [c for c, s in owned.items() if s in names]:
                    del owned[column]
        elif node.removeType == OBJ.OBJECT_INDEX:
            for entries in self.tables.values():
                for name in names:
                    entries.pop(name, None)
