"""The versioned JSON contract (DESIGN.md): stable field names, version 1."""

from __future__ import annotations

import json as _json
from typing import Any

from ..findings import Finding, MigrationTrace, Report, Severity, StatementTrace, TableSize

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
        **_gate_fields(f),
    }


# --- the pre-deploy gate: additive keys (version 1 stays valid) ----------------------------


def _size_dict(size: TableSize | None) -> dict[str, Any] | None:
    if size is None:
        return None
    return {"rows": size.rows, "bytes": size.bytes, "estimated_rows": size.estimated_rows}


def _statement_dict(s: StatementTrace | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "index": s.index,
        "sql": s.sql,
        "operation_index": s.operation_index,
        "mode": s.mode,
        "elapsed_ms": s.elapsed_ms,
        "locks": [{"relation": x.relation, "kind": x.kind, "mode": x.mode} for x in s.locks],
        "rewritten": list(s.rewritten),
        "scanned": list(s.scanned),
        "predicted": list(s.predicted),
        "differences": list(s.differences),
        "error": s.error,
    }


def _gate_fields(f: Finding) -> dict[str, Any]:
    return {
        "table_size": _size_dict(f.table_size),
        "severity_note": f.severity_note,
        "trace": _statement_dict(f.trace),
    }


def _trace_dict(report: Report) -> dict[str, Any] | None:
    target = report.target
    if not target.get("trace_database"):
        return None

    def migration(t: MigrationTrace) -> dict[str, Any]:
        return {
            "app_label": t.app_label,
            "name": t.name,
            "atomic": t.atomic,
            "status": t.status,
            "elapsed_ms": t.elapsed_ms,
            "error": t.error,
            "statements": [_statement_dict(s) for s in t.statements],
        }

    return {
        "database": target["trace_database"],
        "cleanup": target.get("trace_cleanup"),
        "orphans_dropped": [n for n in target.get("trace_orphans_dropped", "").split(", ") if n],
        "migrations": [migration(t) for t in report.traces],
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
        "trace": _trace_dict(report),
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
