"""SM305 runpython-imports-models."""

from __future__ import annotations

from collections.abc import Iterable

from ..context import MigrationContext
from ..facts import OperationFacts
from ..findings import Severity
from ..fixes import data
from ._data import ModelImport, python_facts
from .base import Hit, Rule


class RunPythonImportsModels(Rule):
    """RunPython code that uses the current model classes instead of the historical ones.

    ## What it does
    Reads the `RunPython` function with Python's `ast` module and flags:
    `from app.models import Model` / `import app.models` inside it (any app's
    models module, `django.contrib.auth.models` included; `django.db.models` is
    fine), `get_user_model()`, and `Model.objects...` on a name the function
    neither receives nor gets from `apps.get_model()`, i.e. a model class
    imported at the top of the migration file.

    ## Why is this bad?
    A migration runs against the schema of its own point in history, but an
    imported model class is today's code. As soon as a later release adds,
    renames or removes a field, the model selects columns this migration's
    schema does not have yet: migrating a fresh database (CI, a new
    environment), squashing, or rolling back to this point fails with
    `column ... does not exist`. Custom managers and `save()` overrides of the
    current code run as well.

    ## Example
    ```python
    def fill_slugs(apps, schema_editor):
        from shop.models import Customer
        for customer in Customer.objects.filter(slug=""):
            ...
    ```

    ## Use instead
    ```python
    def fill_slugs(apps, schema_editor):
        Customer = apps.get_model("shop", "Customer")
        for customer in Customer.objects.filter(slug=""):
            ...
    ```
    For the user model: `apps.get_model(settings.AUTH_USER_MODEL)`.
    """

    code = "SM305"
    name = "runpython-imports-models"
    severity = Severity.WARNING
    vendors = frozenset({"postgresql", "mysql", "sqlite", "oracle"})

    def check_operation(self, op: OperationFacts, ctx: MigrationContext) -> Iterable[Hit]:
        if op.runpython is None:
            return
        facts = python_facts(op.runpython.source)
        if facts is None or not facts.imports:
            return
        fn = op.runpython.code.rsplit(".", 1)[-1]
        described = "; ".join(_describe(i, fn) for i in facts.imports[:3])
        if len(facts.imports) > 3:
            described += f"; and {len(facts.imports) - 3} more"
        yield Hit(
            f"RunPython({fn}) runs today's model classes, not the models as they were at this "
            f"point of the migration history ({described}): once a later release changes those "
            "models, this migration breaks on a fresh database, on a rollback and when squashing.",
            operation=op,
            fix=data.historical_models(op, [(i.app_label, i.names, i.kind) for i in facts.imports]),
        )


def _describe(item: ModelImport, fn: str) -> str:
    where = f"line {item.line} of {fn}"
    if item.kind == "get_user_model":
        return f"{where}: get_user_model() returns the current user model"
    if item.kind == "global":
        return f"{where}: `{item.code}` on a model class imported by the module"
    return f"{where}: `{item.code}`"
