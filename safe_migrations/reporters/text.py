"""Human output, grouped by migration: where, what SQL, which lock, why, and the fix."""

from __future__ import annotations

import textwrap
from functools import lru_cache
from typing import Any

from django.core.management.color import no_style

from ..findings import Finding, MigrationTrace, Report, Severity, StatementTrace, TableSize


def _indent(text: str, prefix: str = "      ") -> str:
    return textwrap.indent(text, prefix, lambda line: True)


@lru_cache(maxsize=4096)
def _wrap(text: str, width: int) -> tuple[str, ...]:
    """Greedy word wrap on spaces; much cheaper than textwrap on thousands of findings.

    Words longer than ``width`` (SQL, identifiers) stay whole on a line of their own.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return tuple(lines)


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
    traces = {(t.app_label, t.name): t for t in report.traces}
    for migration in report.migrations:
        found = by_migration.get((migration.app_label, migration.name), [])
        phase = f" [{migration.phase.value}]" if migration.phase else ""
        trace = traces.get((migration.app_label, migration.name))
        if not found and trace is not None and (verbosity >= 2 or _trace_news(trace)):
            out.append("")
            ok = "" if _trace_news(trace) else ": no finding"
            out.append(style.MIGRATE_HEADING(f"{migration.app_label}.{migration.name}{phase}{ok}"))
            out.extend(_trace_block(trace, style, verbosity))
            continue
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
                out.append(f"      lock: {f.lock or '-'} on {f.table or '-'}{_size(f.table_size)}")
            if f.severity_note:
                out.append(f"      severity: {f.severity_note}")
            out.extend(_finding_trace(f.trace, style))
            out.extend(f"      {line}" for line in _wrap(f.message, 92))
            if f.fix is not None:
                out.append(style.SUCCESS(f"      fix: {f.fix.title}"))
                for i, step in enumerate(f.fix.steps, 1):
                    lines = _wrap(step, 86)
                    out.append(f"        {i}. {lines[0]}")
                    out.extend(f"           {line}" for line in lines[1:])
                if f.fix.code:
                    out.append(_indent(f.fix.code.rstrip(), "        | "))
        if trace is not None:
            out.extend(_trace_block(trace, style, verbosity))
    suppressed = len(report.suppressed)
    summary = (
        f"{len(report.migrations)} migration(s) linted: "
        f"{report.count(Severity.ERROR)} error(s), {report.count(Severity.WARNING)} warning(s), "
        f"{report.count(Severity.INFO)} info"
        + (f", {suppressed} suppressed" if suppressed else "")
        + (f", {len(report.errors)} load error(s)" if report.errors else "")
    )
    out.append("")
    out.extend(_gate_summary(report))
    out.append(style.MIGRATE_HEADING(summary))
    from ..phases import summary_lines  # the deploy phase of each migration (phases.py)

    out.extend(style.MIGRATE_HEADING(line) for line in summary_lines(report))
    return "\n".join(out).lstrip("\n") + "\n"


# --- the pre-deploy gate: sizes and --trace ------------------------------------------------


def _size(size: TableSize | None) -> str:
    if size is None:
        return ""
    from ..gate.sizes import describe

    return f" ({describe(size)})"


def _observed(trace: StatementTrace) -> str:
    parts = []
    tables = [lock for lock in trace.locks if lock.kind not in ("index", "sequence")]
    others = len(trace.locks) - len(tables)
    if trace.observable:
        locks = ", ".join(f"{lock.mode} on {lock.relation}" for lock in tables) or "no new table lock"
        parts.append(locks + (f" (+{others} on indexes/sequences)" if others else ""))
    if trace.rewritten:
        parts.append("rewrote " + ", ".join(trace.rewritten))
    if trace.scanned:
        parts.append("scanned " + ", ".join(trace.scanned))
    return "; ".join(parts)


def _mode(trace: StatementTrace) -> str:
    return {
        "transaction": "in the migration's transaction",
        "autocommit": "autocommit",
        "autocommit, not observable": "autocommit: locks and scans not observable",
    }.get(trace.mode, trace.mode)


def _finding_trace(trace: StatementTrace | None, style: Any) -> list[str]:
    if trace is None:
        return []
    if trace.error:
        return [style.ERROR(f"      traced: failed after {trace.elapsed_ms:.1f} ms: {trace.error}")]
    lines = [f"      traced: {_observed(trace) or 'no rewrite'} [{trace.elapsed_ms:.1f} ms, {_mode(trace)}]"]
    lines += [style.WARNING(f"      trace differs: {d}") for d in trace.differences]
    return lines


def _trace_news(trace: MigrationTrace | None) -> bool:
    return trace is not None and (
        trace.status != "applied" or any(s.differences or s.error for s in trace.statements)
    )


def _trace_block(trace: MigrationTrace, style: Any, verbosity: int) -> list[str]:
    """Per migration: how it ran on the scratch database, and every statement whose
    observation differs from the static analysis (every statement with -v 2)."""
    how = "one transaction" if trace.atomic else "atomic = False"
    count = len(trace.statements)
    if trace.status == "not run":
        return [style.WARNING("  trace: not run (an earlier migration failed on the scratch database)")]
    head = f"  trace: {count} statement(s), {how}, {trace.elapsed_ms:.1f} ms on the scratch database"
    if trace.status == "failed":
        head += f": FAILED: {trace.error}"
    lines = [style.ERROR(head) if trace.status == "failed" else head]
    for stmt in trace.statements:
        if not (verbosity >= 2 or stmt.differences or stmt.error):
            continue
        sql = " ".join(stmt.sql.split())
        sql = sql if len(sql) <= 100 or verbosity >= 2 else sql[:97] + "..."
        lines.append(f"    #{stmt.index} {sql}")
        if stmt.error:
            lines.append(style.ERROR(f"        failed: {stmt.error}"))
            continue
        observed = _observed(stmt) or "no rewrite"
        lines.append(f"        observed: {observed} [{stmt.elapsed_ms:.1f} ms, {_mode(stmt)}]")
        if stmt.predicted or stmt.differences:
            lines.append(f"        predicted: {', '.join(stmt.predicted) or 'no lock on an existing table'}")
        lines += [style.WARNING(f"        differs: {d}") for d in stmt.differences]
    return lines


def _gate_summary(report: Report) -> list[str]:
    target = report.target
    lines = []
    if target.get("sizes_unavailable"):
        lines.append(f"table sizes unavailable: {target['sizes_unavailable']}")
    if target.get("trace_database"):
        statements = sum(len(t.statements) for t in report.traces)
        differing = sum(1 for t in report.traces for s in t.statements if s.differences)
        lines.append(
            f"trace: {len(report.traces)} migration(s), {statements} statement(s) on scratch database "
            f"{target['trace_database']} ({target.get('trace_cleanup', '?')}); "
            f"{differing} statement(s) differ from the static analysis"
        )
    if target.get("trace_orphans_dropped"):
        lines.append(
            f"trace: dropped scratch database(s) left by a killed run: {target['trace_orphans_dropped']}"
        )
    if target.get("trace_orphans_left"):
        lines.append(f"trace: could not drop: {target['trace_orphans_left']}")
    return lines
