"""SM106 add-check-constraint."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import constraints as recipes
from ..parsing.statement import Lock, Statement
from ._ast import CON
from ._constraints import add_column_without, added_constraints, constraint_name, enforced, not_valid_sql
from .base import Hit, Rule


class AddCheckConstraint(Rule):
    """A CHECK constraint validated at once: a full scan of the table under ACCESS EXCLUSIVE.

    ## What it does
    Flags `ALTER TABLE ... ADD CONSTRAINT ... CHECK (...)` without `NOT VALID`,
    and `ADD COLUMN` with an inline `CHECK`, on a table that existed before the
    migration. Django emits them for `AddConstraint(CheckConstraint(...))`, for
    `AlterField` to a field that carries its own check
    (`PositiveIntegerField`, `PositiveSmallIntegerField`,
    `PositiveBigIntegerField`) and for `AddField` of such a field.
    `AddConstraintNotValid` followed by `ValidateConstraint` in a later
    migration is the safe form and is not flagged.

    ## Why is this bad?
    PostgreSQL reads every row to prove the condition while holding ACCESS
    EXCLUSIVE on the table: no query reads or writes it until the scan ends, even
    for a new column that is NULL everywhere. A row that violates the condition
    makes the migration fail mid-deploy, and once the constraint exists, old code
    that writes such rows gets `IntegrityError`.

    ## Example
    ```python
    migrations.AddConstraint(
        "order", models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_quantity_gte_1")
    ),  # Django < 5.1: check=
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint

    # migration 1: the constraint is recorded, existing rows are not read (brief lock)
    AddConstraintNotValid(
        "order", models.CheckConstraint(condition=models.Q(quantity__gte=1), name="order_quantity_gte_1")
    ),
    # migration 2: the scan, under SHARE UPDATE EXCLUSIVE: reads and writes go on
    ValidateConstraint("order", "order_quantity_gte_1"),
    ```
    Both operations exist since Django 4.0. For a field's own check (positive
    integer fields) use `SeparateDatabaseAndState` with `RunSQL` adding the same
    CHECK `NOT VALID`, then `VALIDATE CONSTRAINT` in the next migration.
    """

    code = "SM106"
    name = "add-check-constraint"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, _, _, column, name in _flagged(stmt, ctx):
            if column is None:
                message = (
                    f"Adding CHECK constraint {name} on existing table {table} reads every row under "
                    f"ACCESS EXCLUSIVE: no query on {table} runs until the scan ends. A violating row "
                    "fails the migration mid-deploy, and old code writing such rows gets IntegrityError."
                )
            else:
                message = (
                    f"Adding column {table}.{column} with an inline CHECK makes PostgreSQL read every row "
                    f"of {table} under ACCESS EXCLUSIVE to verify it: no query on {table} runs until the "
                    "scan ends."
                )
            yield Hit(
                message,
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=self._fix(stmt, ctx, table, name),
            )

    @staticmethod
    def _fix(stmt: Statement, ctx: MigrationContext, table: str, name: str) -> Fix:
        op = stmt.operation
        not_valid = ""
        add_column: str | None = None
        others: list[str] = []
        for sibling in ctx.statements_of(op):
            flagged = [f for f in _flagged(sibling, ctx) if f[4] == name]
            for _, cmd, con, column, _ in flagged:
                not_valid = not_valid_sql(sibling.node.relation, con, column, name)
                if column is not None:
                    add_column = add_column_without(sibling.node, cmd, con)
            if not flagged:
                others.append(sibling.sql)
        return recipes.check_not_valid(op, table, name, not_valid, others, add_column)


def _flagged(stmt: Statement, ctx: MigrationContext) -> Iterator[tuple[str, Any, Any, str | None, str]]:
    for table, cmd, con, column in added_constraints(stmt.node):
        if con.contype != CON.CONSTR_CHECK or con.skip_validation or not enforced(con):
            continue  # NOT VALID (or PostgreSQL 18's NOT ENFORCED): existing rows are not read
        if ctx.is_new_table(table, stmt):
            continue
        yield table, cmd, con, column, constraint_name(table, con, column, "check")
