"""Suppressions written in migrations: safe_migrations_ignore and RunSQL comments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from .facts import CollectedMigration, OperationFacts
from .findings import Finding

COMMENT = re.compile(r"--\s*safe_migrations:\s*ignore\s+([A-Za-z0-9_,\-]+)\s*(.*)$", re.MULTILINE)


def _matches(pattern: str, finding: Finding) -> bool:
    pattern = str(pattern).strip()
    return pattern.upper() == finding.rule or pattern.lower() == finding.name


def _reason(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None  # a reason is required: an empty one suppresses nothing


def from_comments(op: OperationFacts) -> list[tuple[str, str]]:
    """(code, reason) pairs from ``-- safe_migrations: ignore CODE reason`` in RunSQL."""
    out = []
    for match in COMMENT.finditer(op.sql_text or ""):
        reason = match.group(2).strip()
        if reason:
            out += [(code, reason) for code in match.group(1).split(",") if code]
    return out


def apply_suppressions(findings: Iterable[Finding], migration: CollectedMigration) -> Iterator[Finding]:
    ignore = migration.ignore or {}
    for finding in findings:
        reason = None
        for key, value in ignore.items():
            if isinstance(key, int) and key == finding.location.operation_index and isinstance(value, dict):
                reason = next((_reason(r) for c, r in value.items() if _matches(c, finding)), None)
            elif not isinstance(key, int) and _matches(key, finding):
                reason = _reason(value)
            if reason:
                break
        if reason is None and finding.location.operation_index is not None:
            for op in migration.operations:
                if op.index == finding.location.operation_index and op.kind == "RunSQL":
                    reason = next((r for c, r in from_comments(op) if _matches(c, finding)), None)
                    if reason:
                        break
        yield replace(finding, suppressed=reason) if reason else finding
