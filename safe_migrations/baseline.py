"""Baseline files: accept today's findings so a legacy project fails only on new ones."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from .findings import Finding

VERSION = 1
REASON = "in the baseline"


class BaselineError(ValueError):
    """An unreadable baseline file (exit code 2)."""


def fingerprint(finding: Finding) -> str:
    """Stable across line moves: rule, migration, operation index and the SQL statement."""
    loc = finding.location
    sql = " ".join((loc.sql or "").split())
    text = "|".join([finding.rule, loc.app_label, loc.migration, str(loc.operation_index), sql])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def write(path: Path, findings: Iterable[Finding]) -> int:
    entries = [
        {
            "fingerprint": fingerprint(f),
            "rule": f.rule,
            "app_label": f.location.app_label,
            "migration": f.location.migration,
            "operation_index": f.location.operation_index,
        }
        for f in findings
        if f.suppressed is None
    ]
    entries.sort(key=lambda e: (e["app_label"], e["migration"], str(e["operation_index"]), e["rule"]))
    path.write_text(json.dumps({"version": VERSION, "findings": entries}, indent=2) + "\n")
    return len(entries)


def read(path: Path) -> Counter[str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BaselineError(f"baseline file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise BaselineError(f"{path}: not a safe_migrations baseline (version {VERSION})")
    return Counter(str(e.get("fingerprint")) for e in data.get("findings", []) if isinstance(e, dict))


def apply(findings: Iterable[Finding], accepted: Counter[str]) -> list[Finding]:
    """Suppress findings present in the baseline (each entry accepts one occurrence)."""
    left = Counter(accepted)
    out = []
    for finding in findings:
        key = fingerprint(finding)
        if finding.suppressed is None and left[key] > 0:
            left[key] -= 1
            finding = replace(finding, suppressed=REASON)
        out.append(finding)
    return out
