"""docs/rules/ is generated from the rule docstrings and must not drift."""

from pathlib import Path

import pytest

from safe_migrations.docs import pages
from safe_migrations.rules import all_rules

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


def test_generated_docs_are_up_to_date():
    expected = pages()
    on_disk = {p.name: p.read_text() for p in DOCS.glob("*.md")}
    stale = sorted(n for n in set(expected) | set(on_disk) if expected.get(n) != on_disk.get(n))
    assert not stale, f"run `python -m safe_migrations.docs` to regenerate: {stale}"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_documents_the_four_sections(rule):
    doc = rule.__doc__ or ""
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert section in doc, f"{rule.code} lacks {section!r}"
    assert rule.name == rule.name.lower() and " " not in rule.name


def test_codes_and_names_are_unique():
    rules = all_rules()
    assert len({r.code for r in rules}) == len(rules)
    assert len({r.name for r in rules}) == len(rules)
