"""Plans as text (--plan) and as JSON (an additive "plans" key), with each step's file."""

from __future__ import annotations

import textwrap
from typing import Any

from django.core.management.color import no_style

from ..findings import Phase
from .plan import Plan, Step
from .writer import migration_class, render


def step_migration(plan: Plan, step: Step, original: Any) -> Any:
    """The Migration a step stands for; the first keeps the original's name and attributes."""
    first = step is plan.steps[0]
    return migration_class(
        plan.app_label,
        step.name,
        step.operations,
        step.dependencies,
        atomic=step.atomic,
        initial=bool(getattr(original, "initial", False)) and first,
        phase=Phase.POST_DEPLOY.value if step.phase is Phase.POST_DEPLOY else None,
        replaces=list(getattr(original, "replaces", []) or []) if first else None,
        run_before=list(getattr(original, "run_before", []) or []) if first else None,
    )


def step_file(plan: Plan, step: Step, original: Any, header: str | None = None) -> str:
    return render(
        step_migration(plan, step, original), header=header, original_module=type(original).__module__
    )


def _step_line(n: int, plan: Plan, step: Step) -> str:
    kind = "atomic" if step.atomic else "atomic = False"
    title = step.title or "keeps its name for the migrations that depend on it; the work moves to later steps"
    return f"{n}. {plan.app_label}.{step.name} ({kind}, {step.phase.value}): {title}"


def render_text(plans: list[Plan], graph: Any, *, style: Any = None, verbosity: int = 1) -> str:
    style = style or no_style()
    out: list[str] = []
    for plan in plans:
        out.append(style.MIGRATE_HEADING(f"{plan.app_label}.{plan.name} [must-split]"))
        if plan.reason:
            out.append(textwrap.indent(textwrap.fill(plan.reason, 92), "  "))
        if not plan.ok:
            out.append(style.ERROR("  no safe sequence planned:"))
            out.extend(f"    - {p}" for p in plan.problems or ["no step"])
            out.append("")
            continue
        original = graph.nodes[plan.key]
        release = None
        for n, step in enumerate(plan.steps, 1):
            if step.release != release:
                if release is not None:
                    out.append(
                        style.WARNING(
                            "  -- deploy release N; wait until no pod of the previous release runs --"
                        )
                    )
                release = step.release
                out.append(
                    style.SUCCESS(
                        "  release N, before its code takes traffic (pre-deploy)"
                        if release == 0
                        else "  release N+1, or release N's post-deploy phase (post-deploy)"
                    )
                )
            out.append(f"    {_step_line(n, plan, step)}")
            if verbosity >= 1:
                text = step_file(plan, step, original, header="")
                out.append(textwrap.indent(text.rstrip(), "       | ", lambda line: True))
        for note in plan.notes:
            out.append(textwrap.indent(textwrap.fill("note: " + note, 92), "  "))
        out.append("")
    if not plans:
        out.append("no must-split migration: nothing to plan")
    return "\n".join(out).rstrip() + "\n"


def plans_json(plans: list[Plan], graph: Any) -> list[dict[str, Any]]:
    out = []
    for plan in plans:
        original = graph.nodes[plan.key]
        out.append(
            {
                "app_label": plan.app_label,
                "migration": plan.name,
                "reason": plan.reason,
                "problems": list(plan.problems),
                "notes": list(plan.notes),
                "steps": [
                    {
                        "name": step.name,
                        "release": step.release,
                        "phase": step.phase.value,
                        "atomic": step.atomic,
                        "title": step.title,
                        "code": step_file(plan, step, original, header=""),
                    }
                    for step in plan.steps
                ]
                if plan.ok
                else [],
            }
        )
    return out
