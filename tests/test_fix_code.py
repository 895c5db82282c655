"""Fix code is pasteable: imports it needs, schema-qualified tables, functions of the migration module."""

from __future__ import annotations

import ast

from django.db import migrations, models

from safe_migrations.fixes.recipes import imports_for, q
from safe_migrations.sqlcollect import as_written
from tests.harness import run


def test_imports_follow_the_names_the_code_uses():
    code = (
        "migrations.AddField('order', 'owner', models.ForeignKey("
        "on_delete=django.db.models.deletion.SET_NULL, null=True, to=settings.AUTH_USER_MODEL)),\n"
        "django.contrib.postgres.operations.AddIndexConcurrently('order', models.Index(fields=['x'], name='i')),\n"
        "migrations.RunSQL('SELECT shop.t FROM x'),  # time.sleep in a comment\n"
    )
    assert imports_for(code) == (
        "from django.conf import settings",
        "import django.db.models.deletion",
        "import django.contrib.postgres.operations",
    )


def test_schema_qualified_tables_are_quoted_per_part():
    assert q("accounting.LedgerEntries") == '"accounting"."LedgerEntries"'
    assert q("shop_order") == '"shop_order"'


def test_functions_of_the_migration_module_are_named_as_in_the_file():
    assert as_written("migrations.RunPython(shop.migrations.0002_fill.forwards, reverse_code=x)") == (
        "migrations.RunPython(forwards, reverse_code=x)"
    )
    assert as_written("reverse_code=django.db.migrations.operations.special.RunPython.noop") == (
        "reverse_code=migrations.RunPython.noop"
    )


def test_drop_column_fix_on_a_schema_qualified_model_table():
    model = migrations.CreateModel(
        "Entry",
        [("id", models.BigAutoField(primary_key=True)), ("memo", models.TextField(null=True))],
        options={"db_table": '"accounting"."entries"'},
    )
    drop = migrations.RunSQL('ALTER TABLE "accounting"."entries" DROP COLUMN "memo"')
    [finding] = run([model], [drop], select=("SM201",)).last
    code = finding.fix.code
    ast.parse(code)
    assert "model_name='entry'" in code
    assert '"accounting.entries"' not in code


def _undefined_runpython_functions(code: str) -> list[str]:
    """Functions a fix's RunPython names but no migration of the fix defines."""
    import re

    missing = []
    for chunk in code.split("\n\n# "):
        if "class Migration" not in chunk:
            continue  # one operation to put in the user's own file, next to its function
        for name in re.findall(r"RunPython\(\s*([A-Za-z_]\w*)\s*,", chunk):
            if f"def {name}(" not in chunk:
                missing.append(name)
    return missing


def test_backfill_functions_the_fixes_call_are_defined():
    import uuid

    from tests.conftest import initial

    callable_default = migrations.AddField("customer", "token", models.UUIDField(default=uuid.uuid4))
    type_change = migrations.AlterField("order", "quantity", models.BigIntegerField(default=1))
    for step, code in ((callable_default, "SM205"), (type_change, "SM109")):
        [finding] = [f for f in run(initial(), [step], select=(code,)).last if f.rule == code]
        ast.parse(finding.fix.code)
        assert _undefined_runpython_functions(finding.fix.code) == [], finding.fix.code


def test_hand_written_set_not_null_fix_declares_the_models_real_field():
    from tests.conftest import initial

    raw = migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "age" SET NOT NULL')
    [finding] = run(initial(), [raw], select=("SM108",)).last
    assert "migrations.AlterField(model_name='customer', name='age', field=models.IntegerField())" in (
        finding.fix.code
    )
    assert "models.Field(...)" not in finding.fix.code
