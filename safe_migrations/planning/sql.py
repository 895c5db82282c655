"""Django's own SQL for one operation, offline, and its safe equivalent statement by statement.

The plan never invents DDL: it asks Django's schema editor for the SQL of an operation
(offline, as the linter does), then turns each hazardous statement into the form the
recipes of RULES.md prescribe, keeping every name Django and PostgreSQL would have used
so that the fixed sequence ends in the same catalogue as the original migration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums

from ..offline import offline_patches
from ..parsing.postgres import parse, relname
from ..rules._ast import concurrent_index_sql, deparse
from ..rules._constraints import (
    add_column_without,
    added_constraints,
    constraint_name,
    enforced,
    not_valid_sql,
    unique_index_sql,
)

AT = enums.AlterTableType
CON = enums.ConstrType
OBJ = enums.ObjectType


def q(identifier: str) -> str:
    """A quoted SQL identifier, as Django writes them."""
    return '"' + identifier.replace('"', '""') + '"'


def operation_sql(connection: Any, app_label: str, operation: Any, from_state: Any) -> list[str]:
    """The SQL Django emits for ``operation`` from ``from_state`` (deferred SQL last)."""
    to_state = from_state.clone()
    operation.state_forwards(app_label, to_state)
    with offline_patches():
        editor = connection.schema_editor(collect_sql=True, atomic=False)
        editor.deferred_sql = []
        editor.safe_migrations_old_state = from_state
        operation.database_forwards(app_label, editor, from_state, to_state)
        for item in editor.deferred_sql:
            editor.execute(item, None)
    return [str(s) for s in editor.collected_sql]


def statements(sql: list[str]) -> list[Any]:
    """Every statement of the collected SQL as a pglast node."""
    nodes = []
    for text in sql:
        for raw in parse(text):
            nodes.append(raw.stmt)
    return nodes


@dataclass
class SafeSql:
    """One operation's SQL regrouped by when each statement may run.

    ``now``: brief catalogue changes, run with the operation's state change.
    ``concurrent``: index builds with CONCURRENTLY, one atomic = False migration each.
    ``attach``: constraints added NOT VALID or USING INDEX once the indexes exist.
    ``validate``: VALIDATE CONSTRAINT, each in a transaction of its own.
    ``drop_default``: Django's DROP DEFAULT after ADD COLUMN ... DEFAULT.
    ``unsafe``: statements no rewrite makes safe (the recipe must handle them).
    """

    now: list[tuple[str, str | None]] = field(default_factory=list)
    concurrent: list[tuple[str, str]] = field(default_factory=list)
    attach: list[tuple[str, str | None]] = field(default_factory=list)
    validate: list[str] = field(default_factory=list)
    drop_default: list[tuple[str, str | None]] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    changed: bool = False  # a statement was moved or rewritten

    @property
    def as_is(self) -> bool:
        """Nothing to rewrite: the operation can stay as it is."""
        return not (self.changed or self.concurrent or self.attach or self.validate or self.unsafe)


def _drop_constraint(table: str, name: str) -> str:
    return f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(name)}"


def _validate(table: str, name: str) -> str:
    return f"ALTER TABLE {q(table)} VALIDATE CONSTRAINT {q(name)}"


def _sets_immediate(node: Any) -> bool:
    return isinstance(node, ast.ConstraintsSetStmt)


def rewrite(sql: list[str], *, new_tables: frozenset[str] = frozenset()) -> SafeSql:
    """Split Django's SQL for one operation into safe groups (see SafeSql)."""
    out = SafeSql()
    for node in statements(sql):
        if _sets_immediate(node):
            out.changed = True
            continue  # only meaningful right after an inline REFERENCES, which is moved out
        if isinstance(node, ast.IndexStmt):
            table = relname(node.relation)
            if node.concurrent or table in new_tables:
                out.now.append((deparse(node), None))
            else:
                out.concurrent.append(concurrent_index_sql(node))
            continue
        if isinstance(node, ast.CreateStmt):
            out.now.append((deparse(node), None))
            new_tables = new_tables | {relname(node.relation)}
            continue
        if isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
            _rewrite_alter(node, out, new_tables)
            continue
        out.unsafe.append(deparse(node))
    return out


def _rewrite_alter(node: Any, out: SafeSql, new_tables: frozenset[str]) -> None:
    table = relname(node.relation)
    if table in new_tables:
        out.now.append((deparse(node), None))
        return
    for cmd in node.cmds or ():
        single = copy.deepcopy(node)
        single.cmds = (copy.deepcopy(cmd),)
        if cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            column = str(cmd.def_.colname)
            text = deparse(single)
            moved = []
            for _, _sub_cmd, con, _ in added_constraints(single):
                if con.contype in (CON.CONSTR_CHECK, CON.CONSTR_FOREIGN, CON.CONSTR_UNIQUE):
                    moved.append(con)
            out.changed = out.changed or bool(moved)
            for con in moved:
                # Strip from a fresh copy each time: add_column_without works on one constraint.
                text = _without(text, con)
            out.now.append((text, f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}"))
            for con in moved:
                _move_constraint(node.relation, table, con, column, out)
        elif cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            con = cmd.def_
            if con.contype in (CON.CONSTR_CHECK, CON.CONSTR_FOREIGN, CON.CONSTR_UNIQUE) and not (
                con.skip_validation or con.indexname or not enforced(con)
            ):
                _move_constraint(node.relation, table, con, None, out)
            else:
                name = constraint_name(table, con, None, "key")
                out.now.append((deparse(single), _drop_constraint(table, name)))
        elif cmd.subtype == AT.AT_ColumnDefault and cmd.def_ is None:
            out.drop_default.append((deparse(single).strip(), None))
        elif cmd.subtype in (AT.AT_AlterColumnType, AT.AT_SetNotNull):
            out.unsafe.append(deparse(single))
        else:
            out.now.append((deparse(single), None))


def _without(text: str, con: Any) -> str:
    """``text`` (one ALTER TABLE ... ADD COLUMN) without the inline constraint ``con``."""
    node = parse(text)[0].stmt
    cmd = node.cmds[0]
    for existing in cmd.def_.constraints or ():
        if existing.contype == con.contype and existing.conname == con.conname:
            return add_column_without(node, cmd, existing)
    return text


def _move_constraint(relation: Any, table: str, con: Any, column: str | None, out: SafeSql) -> None:
    """A CHECK or FOREIGN KEY becomes NOT VALID + VALIDATE; a UNIQUE becomes an index built
    concurrently, then attached."""
    if con.contype == CON.CONSTR_UNIQUE:
        name = constraint_name(table, con, column, "key")
        create, drop, attach = unique_index_sql(relation, con, column, name)
        out.concurrent.append((create, drop))
        out.attach.append((attach, _drop_constraint(table, name)))
        return
    label = "check" if con.contype == CON.CONSTR_CHECK else "fkey"
    name = constraint_name(table, con, column, label)
    out.attach.append((not_valid_sql(relation, con, column, name), _drop_constraint(table, name)))
    out.validate.append(_validate(table, name))
