"""The whole catalogue over fixture projects: expected findings per migration (golden files).

Regenerate after an intended change with:  UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
and review the diff: every added or removed code must be a hazard found or a false alarm gone.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import django
import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

PROJECTS = {
    # name: (settings module, extra sys.path, app labels, minimum Django)
    "demo": ("shop.settings", REPO / "fixtures" / "demo", ["customers", "products", "orders"], (5, 0)),
    "opsapp": ("tests.settings", None, ["opsapp"], (6, 1)),
    "testapp": ("tests.settings", None, ["testapp"], (4, 2)),
}


@functools.cache
def lint_json(settings: str, path: Path | None, labels: tuple[str, ...]) -> tuple[dict, ...]:
    """The JSON report of each app label (linted once per test session)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_SETTINGS_MODULE"] = settings
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (path, REPO) if p)
    reports = []
    for label in labels:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "lintmigrations",
                label,
                "--no-cache",
                "--format",
                "json",
                "--fail-on",
                "never",
                "--pg-version",
                "15",
            ],
            cwd=path or REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        reports.append(json.loads(done.stdout))
    return tuple(reports)


def findings_by_migration(settings: str, path: Path | None, labels: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for data in lint_json(settings, path, tuple(labels)):
        for migration in data["migrations"]:
            out[f"{migration['app_label']}.{migration['name']}"] = []
        for finding in data["findings"]:
            key = f"{finding['app_label']}.{finding['migration']}"
            out[key].append(f"{finding['rule']} {finding['name']} [{finding['severity']}]")
        for key in out:
            out[key].sort()
    return out


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_golden(project):
    settings, path, labels, minimum = PROJECTS[project]
    if django.VERSION[:2] < minimum:
        pytest.skip(f"the {project} fixture needs Django {'.'.join(map(str, minimum))}+")
    found = findings_by_migration(settings, path, labels)
    golden = GOLDEN / f"{project}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    expected = json.loads(golden.read_text())
    assert found == expected


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_every_fix_is_python_a_user_can_paste(project):
    """Fix code parses, names no placeholder model and quotes schema-qualified tables per part."""
    settings, path, labels, minimum = PROJECTS[project]
    if django.VERSION[:2] < minimum:
        pytest.skip(f"the {project} fixture needs Django {'.'.join(map(str, minimum))}+")
    problems = []
    for data in lint_json(settings, path, tuple(labels)):
        for finding in data["findings"]:
            code = (finding.get("fix") or {}).get("code") or ""
            where = f"{finding['rule']} {finding['app_label']}.{finding['migration']}"
            try:
                ast.parse(code)
            except SyntaxError as exc:
                problems.append(f"{where}: {exc.msg} at line {exc.lineno}")
            if "model_name='model'" in code or ".migrations.0" in code:
                problems.append(f"{where}: placeholder or migration-module path in the code")
            for chunk in code.split("\n\n# "):
                if "class Migration" not in chunk:
                    continue  # one operation to put in the user's own file, next to its function
                for name in re.findall(r"RunPython\(\s*([A-Za-z_]\w*)\s*,", chunk):
                    if f"def {name}(" not in chunk:
                        problems.append(f"{where}: RunPython({name}) but no def {name} in that migration")
    assert problems == []
