"""Migration files for plan steps, laid out by Django's own MigrationWriter (makemigrations).

MigrationWriter serializes the operations, dependencies and imports; this module adds
what makemigrations never writes: functions the file defines for RunPython (their source,
above the class), ``atomic = False`` on Django versions whose writer omits it, and the
``safe_migrations_phase`` marker.
"""

from __future__ import annotations

import ast
import datetime
import re
import sys
from collections.abc import Iterable
from typing import Any

from django.db import migrations
from django.db.migrations.writer import MigrationWriter

from ..reads import python_text
from .recipes import LOCAL_MODULE, Helper

PHASE_ATTRIBUTE = "safe_migrations_phase"
_SPECIAL = "django.db.migrations.operations.special"


def helpers_of(operations: Iterable[Any]) -> list[Helper]:
    """Functions defined by the plan (RunPython code) that the file must carry."""
    found: list[Helper] = []
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            found += helpers_of([*operation.database_operations, *operation.state_operations])
        elif isinstance(operation, migrations.RunPython):
            for func in (operation.code, operation.reverse_code):
                helper = getattr(func, "safe_migrations_helper", None)
                if helper is not None and helper not in found:
                    found.append(helper)
    return found


def migration_class(
    app_label: str,
    name: str,
    operations: list[Any],
    dependencies: list[tuple[str, str]],
    *,
    atomic: bool = True,
    initial: bool = False,
    phase: str | None = None,
    replaces: list[tuple[str, str]] | None = None,
    run_before: list[tuple[str, str]] | None = None,
) -> Any:
    """A Migration instance, as the loader would have built it from the file."""
    attrs: dict[str, Any] = {
        "operations": operations,
        "dependencies": list(dependencies),
        "atomic": atomic,
        "initial": initial,
        "replaces": list(replaces or []),
        "run_before": list(run_before or []),
    }
    if phase:
        attrs[PHASE_ATTRIBUTE] = phase
    return type("Migration", (migrations.Migration,), attrs)(name, app_label)


def _sort_imports(imports: set[str]) -> list[str]:
    # The order MigrationWriter.as_string uses: "import x" first, then "from x import y".
    return sorted(imports, key=lambda i: (i.split()[0] == "from", i.split()[1]))


def carried_code(module_name: str) -> tuple[set[str], str] | None:
    """(import lines, other top-level code) of a migration module, without its Migration class:
    what a rewritten file needs when it keeps operations calling the module's own functions."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return None
    try:
        source = python_text(path)
        tree = ast.parse(source)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    imports: set[str] = set()
    code: list[str] = []
    for node in tree.body:
        text = ast.get_source_segment(source, node) or ""
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not (isinstance(node, ast.ImportFrom) and node.module == "django.db"):
                imports.update(line.strip() for line in text.splitlines() if line.strip())
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        code.append(text)
    return imports, "\n\n\n".join(code)


_PORTING = re.compile(r"\n\n# Functions from the following migrations need manual copying\.\n(?:# .*\n?)*")


def render(migration: Any, *, header: str | None = None, original_module: str | None = None) -> str:
    """The file for ``migration``, as makemigrations would write it plus our additions.

    ``original_module``: the module of the migration this file replaces; operations kept
    from it may call functions it defines, which are then carried over with its imports.
    """
    text = MigrationWriter(migration, include_header=False).as_string()
    carried = None
    if original_module and f"{original_module}." in text:
        carried = carried_code(original_module)
        text = _PORTING.sub("\n", text).replace(f"{original_module}.", "")
    helpers = helpers_of(migration.operations)
    lines = text.split("\n")
    # The import block is the first run of import lines (MigrationWriter writes nothing above).
    end = next(i for i, line in enumerate(lines) if not line.startswith(("import ", "from ")))
    imports = {line for line in lines[:end] if not line.startswith(f"import {LOCAL_MODULE}")}
    if carried is not None:
        imports |= carried[0]
    for helper in helpers:
        for line in helper.imports:
            if line.startswith("from django.db import "):
                names = {n.strip() for n in line.split(" import ", 1)[1].split(",")}
                current = next(i for i in imports if i.startswith("from django.db import "))
                names |= {n.strip() for n in current.split(" import ", 1)[1].split(",")}
                imports.discard(current)
                imports.add("from django.db import " + ", ".join(sorted(names)))
            else:
                imports.add(line)
    body = "\n".join(lines[end:]).replace(f"{LOCAL_MODULE}.", "")
    # MigrationWriter spells the no-op reverses by their value and full path; write them
    # the way people do.
    body = body.replace("reverse_sql='',", "reverse_sql=migrations.RunSQL.noop,")
    body = body.replace(f"{_SPECIAL}.RunPython.noop", "migrations.RunPython.noop")
    if _SPECIAL not in body:
        imports.discard(f"import {_SPECIAL}")
    out = "\n".join(_sort_imports(imports)) + "\n"
    if carried is not None and carried[1]:
        out += "\n\n" + carried[1].rstrip() + "\n\n"
    if helpers:
        constants = (
            "BATCH = 5_000  # rows per transaction\n\n\n" if any("BATCH" in h.source for h in helpers) else ""
        )
        out += "\n" + constants + "\n\n".join(h.source.rstrip() + "\n" for h in helpers)
        out += "\n" if not body.startswith("\n\n") else ""
        body = body.lstrip("\n")
        out += "\n"
    out += body
    out = re.sub(r"\n+class Migration\(", "\n\n\nclass Migration(", out, count=1)
    out = _class_attributes(out, migration)
    if header is None:
        header = (
            "# Generated by lintmigrations --fix (django-migration-gate) on "
            f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}"
        )
    return (header.rstrip() + "\n\n" if header else "") + out


def _class_attributes(text: str, migration: Any) -> str:
    """``atomic = False`` where the installed Django's writer omits it, and the phase marker."""
    extra = []
    if not migration.atomic and not re.search(r"^    atomic = False$", text, re.MULTILINE):
        extra.append("    atomic = False")
    phase = getattr(migration, PHASE_ATTRIBUTE, None)
    if phase:
        extra.append(f'    {PHASE_ATTRIBUTE} = "{phase}"')
    if not extra:
        return text
    anchor = "\n    dependencies = ["
    block = "".join(f"\n{line}\n" for line in extra)
    return text.replace(anchor, block + anchor, 1)
