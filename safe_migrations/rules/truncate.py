"""SM211 truncate."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast, enums

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import compat
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from .base import Hit, Rule


class Truncate(Rule):
    """`TRUNCATE` in a migration: every row gone at once, under ACCESS EXCLUSIVE.

    ## What it does
    Flags `TRUNCATE` of a table that existed before the migration (tables
    created earlier in the same migration pass).

    ## Why is this bad?
    The rows are gone for every client at once, including the old pods still
    serving traffic, and a rollback of the code does not bring them back.
    `TRUNCATE` takes ACCESS EXCLUSIVE and swaps in new, empty files for the table
    and its indexes: nothing reads or writes the table until the migration's
    transaction commits. With `CASCADE` it also empties every table that
    references it through a foreign key, which the migration does not even name.

    ## Example
    ```python
    migrations.RunSQL('TRUNCATE "shop_order" CASCADE'),
    ```

    ## Use instead
    Delete in batches from a data migration with `atomic = False` (or an
    operations job), so each batch holds row locks only for a moment and
    foreign keys are checked rather than cascaded:
    ```python
    def purge(apps, schema_editor):
        with schema_editor.connection.cursor() as cursor:
            while True:
                cursor.execute('DELETE FROM "shop_order" WHERE ctid = ANY(ARRAY('
                               'SELECT ctid FROM "shop_order" LIMIT 5000))')
                if cursor.rowcount == 0:
                    break

    class Migration(migrations.Migration):
        atomic = False
        operations = [migrations.RunPython(purge, migrations.RunPython.noop)]
    ```
    """

    code = "SM211"
    name = "truncate"
    severity = Severity.ERROR

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.TruncateStmt):
            return
        tables = [relname(r) for r in node.relations or ()]
        existing = [t for t in tables if not ctx.is_new_table(t, stmt)]
        if not existing:
            return
        message = (
            f"TRUNCATE {', '.join(existing)} deletes every row at once for all clients, the old pods "
            "included, and holds ACCESS EXCLUSIVE until the transaction ends; the data cannot be restored "
            "by a rollback."
        )
        if node.behavior == enums.DropBehavior.DROP_CASCADE:
            message += " CASCADE also empties every table that references it through a foreign key."
        yield Hit(
            message,
            statement=stmt,
            lock=Lock.ACCESS_EXCLUSIVE.label,
            table=existing[0],
            fix=compat.truncate(existing),
        )
