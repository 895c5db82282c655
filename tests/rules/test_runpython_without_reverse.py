from django.db import migrations

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM301",)


def fill_slugs(apps, schema_editor):
    pass


def test_docs_example_is_flagged():
    result = run(initial(), [migrations.RunPython(fill_slugs)], select=SELECT)
    assert result.codes() == ["SM301"]
    assert "reverse_code=migrations.RunPython.noop" in result.last[0].fix.code
    assert result.last[0].severity.label == "warning"


def test_use_instead_noop_reverse_passes():
    result = run(
        initial(), [migrations.RunPython(fill_slugs, reverse_code=migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == []
