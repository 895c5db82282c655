"""Render a squash plan (and --run results) as text or versioned JSON; decides nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.core.management.color import no_style

from .model import BLOCKER, CAUTION, AppPlan, Cleanup, Plan
from .run import RunResult

VERSION = 1


def _date(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


def _days_until(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    return max(0, -((now - moment) // timedelta(days=1)))  # rounded up: "in 1 day" until it is due


def _due_text(app: AppPlan, now: datetime) -> str:
    if app.due:
        return "DUE now (blocked)" if app.blocked else "DUE now"
    if app.due_at is None:
        return "never at the current rate"
    return f"{_date(app.due_at)} (in {_days_until(app.due_at, now)} days)"


def _cleanup_summary(app: AppPlan) -> str:
    counts: dict[str, int] = {}
    for c in app.cleanups:
        counts[c.status] = counts.get(c.status, 0) + 1
    labels = {"due": "due", "unverified": "pending", "partly-applied": "blocked"}
    return ", ".join(f"{n} {labels[s]}" for s, n in sorted(counts.items())) or "-"


def render_text(
    plan: Plan, runs: list[RunResult] | None = None, *, style: Any = None, verbosity: int = 1
) -> str:
    style = style or no_style()
    t = plan.thresholds
    now = plan.as_of
    out = [
        style.MIGRATE_HEADING(f"Squash plan as of {_date(now)}"),
        f"due when an app has >= {max(t.count, 2)} migrations since its last squash and the oldest of "
        f"them is >= {t.age_days} days old; rate = migrations added in the last {t.window_days} days, per month",
    ]
    out.extend(f"note: {n}" for n in plan.notes)
    headers = ("app", "migrations", "since squash", "oldest unsquashed", "rate/month", "cleanups", "due")
    rows = []
    for app in plan.apps:
        oldest = f"{app.oldest} ({app.age_days} d, {app.oldest_source})" if app.oldest else "-"
        rows.append(
            (
                app.app_label,
                str(app.migrations),
                str(app.since_last_squash),
                oldest,
                f"{app.rate:.1f}",
                _cleanup_summary(app),
                _due_text(app, now),
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    right = {1, 2, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out.append("")
    out.append(line(headers))
    for app, row in zip(plan.apps, rows, strict=True):
        text = line(row)
        out.append(style.WARNING(text) if app.due else text)

    for app in plan.apps:
        if not (app.due or app.cleanups or verbosity >= 2):
            continue
        out.append("")
        out.append(style.MIGRATE_HEADING(f"{app.app_label}:"))
        if app.range is not None:
            verb = "squash" if app.due else "would squash"
            out.append(f"  {verb} {app.range.start} .. {app.range.end} ({len(app.range.names)} migrations)")
        for note in app.notes:
            paint = style.ERROR if note.level == BLOCKER else style.WARNING if note.level == CAUTION else str
            where = f"{note.migration}: " if note.migration else ""
            out.append(paint(f"  {note.level:<8} {where}{note.message}"))
        for cleanup in app.cleanups:
            out.extend(_cleanup_lines(cleanup, style))

    if runs is not None:
        out.append("")
        out.append(style.MIGRATE_HEADING("Squash runs:"))
        if not runs:
            out.append("  nothing to run")
        for result in runs:
            out.extend(_run_lines(result, style, verbosity))

    due = plan.due
    cleanups_due = sum(1 for a in plan.apps for c in a.cleanups if c.status == "due")
    pending = sum(1 for a in plan.apps for c in a.cleanups if c.status == "unverified")
    blocked = sum(1 for a in plan.apps for c in a.cleanups if c.status == "partly-applied")
    out.append("")
    summary = (
        f"{len(plan.apps)} app(s): {len(due)} due{' (' + ', '.join(a.app_label for a in due) + ')' if due else ''}, "
        f"{cleanups_due} cleanup(s) due, {pending} awaiting a --database check, {blocked} blocked by a "
        "partly-applied squash"
    )
    out.append(summary)
    return "\n".join(out) + "\n"


def _cleanup_lines(cleanup: Cleanup, style: Any) -> list[str]:
    paint = {"due": style.SUCCESS, "partly-applied": style.ERROR}.get(cleanup.status, style.WARNING)
    head = {"due": "cleanup due", "partly-applied": "blocker", "unverified": "cleanup pending"}[
        cleanup.status
    ]
    lines = [paint(f"  {head}: {cleanup.message}")]
    if cleanup.status != "partly-applied":
        lines.append('    steps (Django\'s "transition the squashed migration to a normal migration"):')
        lines.extend(f"    {i}. {step}" for i, step in enumerate(cleanup.steps, 1))
    return lines


def _run_lines(result: RunResult, style: Any, verbosity: int) -> list[str]:
    paint = {"verified": style.SUCCESS, "failed": style.ERROR}.get(result.status, str)
    lines = [paint(f"  {result.app_label}: {result.status}: {result.reason}")]
    if result.file:
        lines.append(f"    wrote {result.file}")
    lines.extend(f"    - {detail}" for detail in result.details)
    if result.notes:
        lines.append(
            f"    note: {len(result.notes)} index/constraint name(s) differ, left by renames in the old history"
        )
        if verbosity >= 2:
            lines.extend(f"      {n}" for n in result.notes)
    if result.removed:
        lines.append(f"    removed {', '.join(result.removed)}: nothing is left behind")
    if result.status == "verified":
        lines.append(
            f"    lintmigrations: {len(result.findings)} finding(s) in the squashed migration "
            "(it only runs on fresh databases)"
        )
        lines.extend(
            f"      {f.rule} {f.name} [{f.severity.label}] {f.location.operation or ''}".rstrip()
            for f in result.findings
        )
        lines.append(
            "    next: commit it next to the files it replaces and deploy; keep the old files until "
            "every database has applied them (squashplan --database ALIAS tells when)"
        )
    return lines


def as_dict(plan: Plan, runs: list[RunResult] | None = None) -> dict[str, Any]:
    t = plan.thresholds
    data: dict[str, Any] = {
        "version": VERSION,
        "as_of": plan.as_of.isoformat(),
        "thresholds": {"count": t.count, "age_days": t.age_days, "window_days": t.window_days},
        "database": plan.database,
        "notes": list(plan.notes),
        "apps": [_app(app, plan.as_of) for app in plan.apps],
    }
    if runs is not None:
        data["runs"] = [_run(r) for r in runs]
    data["summary"] = {
        "apps": len(plan.apps),
        "due": [a.app_label for a in plan.due],
        "cleanups_due": sum(1 for a in plan.apps for c in a.cleanups if c.status == "due"),
        "cleanups_unverified": sum(1 for a in plan.apps for c in a.cleanups if c.status == "unverified"),
        "cleanups_blocked": sum(1 for a in plan.apps for c in a.cleanups if c.status == "partly-applied"),
    }
    return data


def _app(app: AppPlan, now: datetime) -> dict[str, Any]:
    return {
        "app_label": app.app_label,
        "migrations": app.migrations,
        "since_last_squash": app.since_last_squash,
        "last_squash": app.last_squash,
        "oldest_unsquashed": (
            {
                "name": app.oldest,
                "added": app.oldest_added.isoformat() if app.oldest_added else None,
                "age_days": app.age_days,
                "source": app.oldest_source,
            }
            if app.oldest
            else None
        ),
        "rate_per_month": round(app.rate, 3),
        "due": app.due,
        "due_on": _date(app.due_at),
        "due_in_days": _days_until(app.due_at, now),
        "range": (
            {
                "start": app.range.start,
                "end": app.range.end,
                "migrations": list(app.range.names),
                "cut": app.range.cut,
            }
            if app.range
            else None
        ),
        "blocked": app.blocked,
        "notes": [
            {"level": n.level, "kind": n.kind, "migration": n.migration, "message": n.message}
            for n in app.notes
        ],
        "squashes": [
            {
                "name": c.name,
                "file": c.file,
                "replaces": [list(r) for r in c.replaces],
                "replaced_files_present": list(c.present),
                "status": c.status,
                "applied": c.applied,
                "message": c.message,
                "dependency_edits": [
                    {
                        "migration": list(e.migration),
                        "file": e.file,
                        "attribute": e.attribute,
                        "old": list(e.old),
                        "new": list(e.new),
                    }
                    for e in c.edits
                ],
                "steps": list(c.steps),
            }
            for c in app.cleanups
        ],
    }


def _run(result: RunResult) -> dict[str, Any]:
    return {
        "app_label": result.app_label,
        "status": result.status,
        "reason": result.reason,
        "file": result.file,
        "replaced": list(result.replaced),
        "details": list(result.details),
        "notes": list(result.notes),
        "removed": list(result.removed),
        "findings": [
            {
                "rule": f.rule,
                "name": f.name,
                "severity": f.severity.label,
                "message": f.message,
                "operation_index": f.location.operation_index,
                "operation": f.location.operation,
            }
            for f in result.findings
        ],
    }


def render_json(plan: Plan, runs: list[RunResult] | None = None, **_: Any) -> str:
    return json.dumps(as_dict(plan, runs), indent=2) + "\n"
