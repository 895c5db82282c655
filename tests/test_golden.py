"""The whole catalogue over fixture projects: expected findings per migration (golden files).

Regenerate after an intended change with:  UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
and review the diff: every added or removed code must be a hazard found or a false alarm gone.
"""

from __future__ import annotations

import json
import os
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


def findings_by_migration(settings: str, path: Path | None, labels: list[str]) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["DJANGO_SETTINGS_MODULE"] = settings
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (path, REPO) if p)
    out: dict[str, list[str]] = {}
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
        data = json.loads(done.stdout)
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
