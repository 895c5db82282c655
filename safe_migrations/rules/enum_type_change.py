"""SM209 enum-type-change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast
from pglast.visitors import Visitor

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import compat
from ..parsing.statement import Statement
from ._compat import bare, names, same_transaction_after
from .base import Hit, Rule


class _Strings(Visitor):  # type: ignore[misc]
    """Every string literal of a statement."""

    def __init__(self) -> None:
        self.found: set[str] = set()

    def visit_String(self, ancestors: Any, node: Any) -> None:
        self.found.add(str(node.sval))


def _literals(node: Any) -> set[str]:
    visitor = _Strings()
    visitor(node)
    return visitor.found


class EnumTypeChange(Rule):
    """A PostgreSQL enum type changed while the running code relies on its labels.

    ## What it does
    Flags changes to enum types, which Django only meets through `RunSQL` or
    third-party enum fields (`TextChoices` are plain varchar columns):
    - `ALTER TYPE ... RENAME VALUE`;
    - `ALTER TYPE ... ADD VALUE` without `BEFORE`/`AFTER` (an error on
      PostgreSQL before 12 inside a transaction, where it cannot run at all, or
      when the same transaction already uses the new label);
    - `CREATE TYPE ... AS ENUM`, as information: the type can later only grow.
    Dropping a type is reported by drop-database-object (SM210).

    ## Why is this bad?
    A renamed label breaks the code still running: its writes of the old label
    fail with `invalid input value for enum`, and its reads meet a label it does
    not know. An added label reaches old code as soon as the new code writes it,
    and its position (appended last unless told) decides how `ORDER BY` and
    comparisons sort it. Before PostgreSQL 12, `ADD VALUE` cannot run inside a
    transaction block, so an atomic migration fails; since 12 the new label
    cannot be used before the transaction commits. No table lock is taken.

    ## Example
    ```python
    migrations.RunSQL("ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'"),
    ```

    ## Use instead
    ```python
    # add the new label explicitly placed, deploy code that reads both,
    # move the rows in batches, then stop writing the old label
    migrations.RunSQL("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'unhappy' AFTER 'sad'",
                      migrations.RunSQL.noop),
    ```
    On PostgreSQL before 12 the migration needs `atomic = False`. PostgreSQL
    cannot remove an enum label; a varchar column with `choices` and a
    `CheckConstraint` is easier to evolve.
    """

    code = "SM209"
    name = "enum-type-change"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        version = ctx.target.server_version
        if isinstance(node, ast.CreateEnumStmt):
            type_name = names(node.typeName)
            yield Hit(
                f"Enum type {type_name} can later only gain labels: renaming or retiring one breaks the "
                "code running at the time, and PostgreSQL cannot drop a label at all.",
                statement=stmt,
                fix=compat.enum_create(bare(type_name), ctx.target.django_version),
                severity=Severity.INFO,
            )
            return
        if not isinstance(node, ast.AlterEnumStmt):
            return
        type_name = names(node.typeName)
        if self._created_before(ctx, stmt, type_name):
            return  # no column of a running release can use it yet
        if node.oldVal:
            yield Hit(
                f"Renaming label {node.oldVal!r} of enum {type_name} to {node.newVal!r} breaks the code still "
                f"running: it writes {node.oldVal!r}, which now fails with 'invalid input value for enum', "
                "and reads a label it does not know.",
                statement=stmt,
                fix=compat.enum_rename_value(bare(type_name), str(node.oldVal), str(node.newVal), version),
            )
            return
        value = str(node.newVal)
        in_transaction = ctx.migration.atomic or bool(stmt.operation.atomic)
        used = any(
            value in _literals(later.node) for later in same_transaction_after(ctx, stmt) if later.node
        )
        positioned = bool(node.newValNeighbor)
        problems = []
        severity = None
        if version < 12 and in_transaction:
            problems.append(
                f"PostgreSQL {version} refuses ALTER TYPE ... ADD VALUE inside a transaction block, so "
                "this migration fails"
            )
            severity = Severity.ERROR
        elif used and in_transaction:
            problems.append(
                f"a later statement of the same transaction uses {value!r}, which PostgreSQL refuses "
                "until the transaction that added it has committed ('unsafe use of new value')"
            )
            severity = Severity.ERROR
        if not positioned:
            problems.append(
                f"without BEFORE/AFTER the label is appended last, which decides how ORDER BY and "
                f"comparisons on {type_name} sort it; and code still running may meet a label it does "
                "not know once new code writes it"
            )
        if not problems:
            return
        yield Hit(
            f"Adding label {value!r} to enum {type_name}: " + "; ".join(problems) + ".",
            statement=stmt,
            fix=compat.enum_add_value(bare(type_name), value, node.newValNeighbor or None, version),
            severity=severity,
        )

    @staticmethod
    def _created_before(ctx: MigrationContext, stmt: Statement, type_name: str) -> bool:
        return any(
            isinstance(s.node, ast.CreateEnumStmt) and bare(names(s.node.typeName)) == bare(type_name)
            for s in ctx.statements[: stmt.index]
        )
