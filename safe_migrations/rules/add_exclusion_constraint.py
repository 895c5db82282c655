"""SM113 add-exclusion-constraint."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import constraints as recipes
from ..parsing.statement import Lock, Statement
from ._ast import CON
from ._constraints import added_constraints, constraint_name
from .base import Hit, Rule


class AddExclusionConstraint(Rule):
    """An exclusion constraint added to an existing table: a full outage, with no online alternative.

    ## What it does
    Flags `ALTER TABLE ... ADD CONSTRAINT ... EXCLUDE` on a table that existed
    before the migration. Django emits it for
    `AddConstraint(ExclusionConstraint(...))` from `django.contrib.postgres`.
    Declaring the constraint on a new table (`CreateModel`) is not flagged.

    ## Why is this bad?
    PostgreSQL builds the constraint's index and checks every pair of
    conflicting rows while holding ACCESS EXCLUSIVE: no query reads or writes the
    table until it is done (2.4 s for 200,000 rows measured with a GiST index).
    Unlike CHECK, FOREIGN KEY and UNIQUE, an
    exclusion constraint can neither be added `NOT VALID` nor attached from an
    index built concurrently. Conflicting rows make the migration fail
    mid-deploy, and old code writing such rows gets `IntegrityError` afterwards.

    ## Example
    ```python
    from django.contrib.postgres.constraints import ExclusionConstraint
    from django.contrib.postgres.fields import RangeOperators

    migrations.AddConstraint("booking", ExclusionConstraint(
        name="booking_no_overlap",
        expressions=[("room", RangeOperators.EQUAL), ("period", RangeOperators.OVERLAPS)],
    )),
    ```

    ## Use instead
    There is no online way. Declare the constraint when the table is created,
    or create a new table with it and move the data there; otherwise run the
    operation alone, with a `lock_timeout`, in an agreed maintenance window, and
    record that decision in the migration:
    ```python
    class Migration(migrations.Migration):
        safe_migrations_ignore = {"SM113": "maintenance window, booking table locked ~3 s"}
        operations = [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.AddConstraint("booking", ExclusionConstraint(...)),
        ]
    ```
    Until then the rule can be enforced by the application or a trigger.
    """

    code = "SM113"
    name = "add-exclusion-constraint"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        for table, _, con, column in added_constraints(stmt.node):
            if con.contype != CON.CONSTR_EXCLUSION or ctx.is_new_table(table, stmt):
                continue
            name = constraint_name(table, con, column, "excl")
            yield Hit(
                f"Adding exclusion constraint {name} on existing table {table} builds its index and "
                f"checks every row under ACCESS EXCLUSIVE: no query reads or writes {table} until it is "
                "done, and PostgreSQL offers no NOT VALID or concurrent form to avoid it.",
                statement=stmt,
                lock=Lock.ACCESS_EXCLUSIVE.label,
                table=table,
                fix=recipes.exclusion_maintenance(stmt.operation, table, name),
            )
