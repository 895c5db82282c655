"""The versioned JSON contract (DESIGN.md): stable field names, version 1."""

from __future__ import annotations

import json as _json
from typing import Any

from ..findings import Finding, Report, Severity

VERSION = 1


def finding_dict(f: Finding) -> dict[str, Any]:
    loc = f.location
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity.label,
        "message": f.message,
        "app_label": loc.app_label,
        "migration": loc.migration,
        "file": loc.file,
        "line": loc.line,
        "operation_index": loc.operation_index,
        "operation": loc.operation,
        "sql": loc.sql,
        "lock": f.lock,
        "table": f.table,
        "fix": None
        if f.fix is None
        else {"title": f.fix.title, "steps": list(f.fix.steps), "code": f.fix.code},
        "suppressed": f.suppressed,
    }


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "version": VERSION,
        "target": dict(report.target),
        "findings": [finding_dict(f) for f in report.active],
        "suppressed": [finding_dict(f) for f in report.suppressed],
        "migrations": [
            {
                "app_label": m.app_label,
                "name": m.name,
                "file": m.file,
                "atomic": m.atomic,
                "operations": m.operations,
                "statements": m.statements,
                "phase": m.phase.value if m.phase else None,
                "phase_reason": m.phase_reason,
            }
            for m in report.migrations
        ],
        "errors": [
            {"message": e.message, "app_label": e.app_label, "migration": e.migration, "file": e.file}
            for e in report.errors
        ],
        "summary": {
            "migrations": len(report.migrations),
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "info": report.count(Severity.INFO),
            "suppressed": len(report.suppressed),
            "load_errors": len(report.errors),
        },
    }


def render(report: Report, **_: Any) -> str:
    return _json.dumps(as_dict(report), indent=2, sort_keys=False) + "\n"
