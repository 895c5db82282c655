"""SM301 runpython-without-reverse."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import recipes
from .base import Hit, Rule


class RunPythonWithoutReverse(Rule):
    """A RunPython with no reverse_code, which makes the migration irreversible.

    ## What it does
    Flags `migrations.RunPython(code)` without `reverse_code`.

    ## Why is this bad?
    Rolling a release back means migrating its app back to the previous
    migration; Django then raises `IrreversibleError` at this operation and the
    rollback stops half-way, at the worst moment of a failed deploy.

    ## Example
    ```python
    migrations.RunPython(fill_slugs),
    ```

    ## Use instead
    ```python
    migrations.RunPython(fill_slugs, reverse_code=migrations.RunPython.noop),
    ```
    or a real reverse function when the forwards change must be undone.
    """

    code = "SM301"
    name = "runpython-without-reverse"
    severity = Severity.WARNING
    vendors = frozenset({"postgresql", "mysql", "sqlite", "oracle"})

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if op.runpython is None or op.runpython.reverse_code is not None:
            return
        yield Hit(
            f"RunPython({op.runpython.code.rsplit('.', 1)[-1]}) has no reverse_code: migrating back "
            "past it raises IrreversibleError, which blocks rolling the release back.",
            operation=op,
            fix=recipes.runpython_reverse(op),
        )
