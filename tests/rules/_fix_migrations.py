"""Turn a finding's fix code back into migrations, to check that the fix passes the rule."""

from __future__ import annotations

import re

from tests.harness import Mig


def fix_migrations(code: str) -> list[Mig]:
    """Each `class Migration` block of a Fix's code, executed, as a harness Mig."""
    found = []
    for chunk in re.split(r"\n\n(?=# )", code):
        if "class Migration" not in chunk:
            continue
        namespace: dict[str, object] = {}
        exec(compile(chunk, "<fix>", "exec"), namespace)
        migration = namespace["Migration"]
        found.append(Mig(list(migration.operations), atomic=getattr(migration, "atomic", True)))
    return found
