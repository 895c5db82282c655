"""Human output, grouped by migration: where, what SQL, which lock, why, and the fix."""

from __future__ import annotations

import textwrap
from typing import Any

from django.core.management.color import no_style

from ..findings import Finding, Report, Severity


def _indent(text: str, prefix: str = "      ") -> str:
    return textwrap.indent(text, prefix, lambda line: True)


def render(report: Report, *, style: Any = None, verbosity: int = 1, **_: Any) -> str:
    style = style or no_style()
    paint = {
        Severity.ERROR: style.ERROR,
        Severity.WARNING: style.WARNING,
        Severity.INFO: style.NOTICE,
    }
    out: list[str] = []
    for error in report.errors:
        where = error.file or (f"{error.app_label}.{error.migration}" if error.migration else error.app_label)
        out.append(style.ERROR(f"error: {where + ': ' if where else ''}{error.message}"))
    by_migration: dict[tuple[str, str], list[Finding]] = {}
    for finding in report.active:
        by_migration.setdefault((finding.location.app_label, finding.location.migration), []).append(finding)
    for migration in report.migrations:
        found = by_migration.get((migration.app_label, migration.name), [])
        phase = f" [{migration.phase.value}]" if migration.phase else ""
        if not found:
            if verbosity >= 2:
                out.append(style.SUCCESS(f"{migration.app_label}.{migration.name}{phase}: ok"))
            continue
        out.append("")
        out.append(style.MIGRATE_HEADING(f"{migration.app_label}.{migration.name}{phase}"))
        for f in found:
            loc = f.location
            where = f"{loc.file}:{loc.line}" if loc.file and loc.line else (loc.file or "")
            head = f"  {where}  {f.rule} {f.name} [{f.severity.label}]".rstrip()
            out.append(paint[f.severity](head))
            if loc.operation:
                out.append(f"      operation #{loc.operation_index}: {loc.operation}")
            if loc.sql:
                sql = loc.sql if len(loc.sql) <= 400 or verbosity >= 2 else loc.sql[:400] + " ..."
                out.append(style.SQL_KEYWORD(_indent(sql, "      SQL: ").replace("\n", "\n      ")))
            if f.lock or f.table:
                out.append(f"      lock: {f.lock or '-'} on {f.table or '-'}")
            out.append(_indent(textwrap.fill(f.message, 92), "      "))
            if f.fix is not None:
                out.append(style.SUCCESS(f"      fix: {f.fix.title}"))
                for i, step in enumerate(f.fix.steps, 1):
                    lines = textwrap.wrap(step, 86) or [""]
                    out.append(f"        {i}. {lines[0]}")
                    out.extend(f"           {line}" for line in lines[1:])
                if f.fix.code:
                    out.append(_indent(f.fix.code.rstrip(), "        | "))
    suppressed = len(report.suppressed)
    summary = (
        f"{len(report.migrations)} migration(s) linted: "
        f"{report.count(Severity.ERROR)} error(s), {report.count(Severity.WARNING)} warning(s), "
        f"{report.count(Severity.INFO)} info"
        + (f", {suppressed} suppressed" if suppressed else "")
        + (f", {len(report.errors)} load error(s)" if report.errors else "")
    )
    out.append("")
    out.append(style.MIGRATE_HEADING(summary))
    from ..phases import summary_lines  # the deploy phase of each migration (phases.py)

    out.extend(style.MIGRATE_HEADING(line) for line in summary_lines(report))
    return "\n".join(out).lstrip("\n") + "\n"
