"""The safe sequence for a must-split migration: steps across releases, each a migration.

A plan is built from the migration's real Django operations and the model state before
it. Every operation with an error finding is replaced by the stages of its recipe
(RULES.md section 3); the others stay in the first step. Stages are then packed into as
few migrations as the recipes allow: one atomic migration per phase, and a migration of
its own for each concurrent index build, backfill and VALIDATE. Every state operation
of the original is kept (directly or in ``state_operations``), so the fixed chain ends
in the same model state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import migrations

from ..facts import CollectedMigration
from ..findings import Finding, Phase, Severity
from ..parsing.statement import parse_migration
from ..phases import contract_steps
from . import recipes
from .recipes import Problem, Stage

Key = tuple[str, str]
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '2s'"


@dataclass
class Step:
    """One migration of the plan."""

    phase: Phase
    operations: list[Any]
    atomic: bool = True
    titles: list[str] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    alone: bool = False
    name: str = ""  # set by name_steps()
    dependencies: list[Key] = field(default_factory=list)

    @property
    def release(self) -> int:
        """0: release N, before its code takes traffic; 1: once no pod of the old release runs."""
        return 1 if self.phase is Phase.POST_DEPLOY else 0

    @property
    def title(self) -> str:
        return "; ".join(dict.fromkeys(t for t in self.titles if t))


@dataclass
class Plan:
    app_label: str
    name: str
    reason: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.app_label, self.name)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and not self.problems


@dataclass(frozen=True)
class Target:
    server_version: int
    django_version: tuple[int, int]


def build_plan(
    migration: Any,
    state: Any,
    collected: CollectedMigration,
    findings: Sequence[Finding],
    connection: Any,
    target: Target,
    reason: str = "",
) -> Plan:
    """The plan for one must-split migration (``state``: the model state before it)."""
    app_label = migration.app_label
    plan = Plan(app_label, migration.name, reason)
    errors: dict[int, set[str]] = {}
    for f in findings:
        if f.suppressed is None and f.severity >= Severity.ERROR:
            index = f.location.operation_index
            errors.setdefault(-1 if index is None else index, set()).add(f.rule)
    if -1 in errors:
        plan.problems.append(
            "no automatic plan for migration-wide findings: " + ", ".join(sorted(errors[-1]))
        )
        return plan
    statements = parse_migration(collected) if collected.vendor == "postgresql" else []
    contract_ops = {s.operation.index for s in statements if s.node is not None and contract_steps([s])}
    per_op: list[list[Stage]] = []
    current = state.clone()
    touched: dict[tuple[str, str], list[int]] = {}
    for index, operation in enumerate(migration.operations):
        before = current.clone()
        ctx = recipes.OpContext(
            app_label=app_label,
            operation=operation,
            from_state=before,
            connection=connection,
            server_version=target.server_version,
            django_version=target.django_version,
            atomic=bool(migration.atomic),
        )
        rules = errors.get(index, set())
        if rules:
            stages: list[Stage] | Problem = recipes.stages_for(ctx, rules)
        elif index in contract_ops:
            stages = [
                Stage(Phase.POST_DEPLOY, [operation], atomic=bool(migration.atomic), title="contract step")
            ]
        else:
            stages = [Stage(Phase.PRE_DEPLOY, [operation], atomic=bool(migration.atomic))]
        if isinstance(stages, Problem):
            plan.problems.append(f"operation #{index} ({operation.describe()}): {stages.message}")
        else:
            per_op.append(stages)
            for stage in stages:
                plan.notes.extend(n for n in stage.notes if n not in plan.notes)
        target_key = recipes.touched(app_label, operation)
        if target_key is not None:
            touched.setdefault(target_key, []).append(index)
        try:
            operation.state_forwards(app_label, current)
        except Exception as exc:  # noqa: BLE001 - the lint reported it already
            plan.problems.append(f"operation #{index}: {type(exc).__name__}: {exc}")
            return plan
    for (model, name), indexes in touched.items():
        if len(indexes) > 1 and any(errors.get(i) for i in indexes):
            plan.problems.append(
                f"operations {', '.join(f'#{i}' for i in indexes)} all change {model}.{name}: "
                "split them into separate migrations first"
            )
    if plan.problems:
        return plan
    plan.steps = pack(per_op)
    _add_lock_timeouts(plan.steps)
    return plan


def _compatible(step: Step, stage: Stage) -> bool:
    return step.phase is stage.phase and step.atomic == stage.atomic and not step.alone and not stage.alone


def pack(per_op: list[list[Stage]]) -> list[Step]:
    """Stages into migrations: each operation's stages stay in order, in distinct migrations;
    an operation's first stage never lands before the previous operation's first stage."""
    steps: list[Step] = []
    floor = 0
    for stages in per_op:
        previous = -1
        first_at = None
        for n, stage in enumerate(stages):
            start = floor if n == 0 else previous + 1
            slot = next(
                (i for i in range(start, len(steps)) if _compatible(steps[i], stage)),
                None,
            )
            if slot is None:
                steps.append(Step(stage.phase, [], atomic=stage.atomic, alone=stage.alone))
                slot = len(steps) - 1
            step = steps[slot]
            step.operations.extend(stage.operations)
            step.titles.append(stage.title)
            step.slugs.append(stage.slug)
            previous = slot
            if first_at is None:
                first_at = slot
        floor = first_at if first_at is not None else floor
    order = {Phase.PRE_DEPLOY: 0, Phase.POST_DEPLOY: 1}
    # Stable: steps of one phase keep their order, so each operation's stages do too.
    return sorted(steps, key=lambda s: order[s.phase])


def _touches_tables(operation: Any) -> bool:
    if isinstance(operation, migrations.SeparateDatabaseAndState):
        return any(_touches_tables(op) for op in operation.database_operations)
    if isinstance(operation, migrations.RunPython):
        return False
    if isinstance(operation, migrations.RunSQL):
        text = operation.sql if isinstance(operation.sql, str) else " ".join(map(str, operation.sql))
        return bool(re.search(r"\b(ALTER|DROP|CREATE)\b", text, re.IGNORECASE)) and "CONCURRENTLY" not in text
    return type(operation).__module__.startswith("django.db.migrations") or type(operation).__name__ in (
        "AddConstraintNotValid",
    )


def _add_lock_timeouts(steps: list[Step]) -> None:
    """R11: atomic steps that lock existing tables start with SET LOCAL lock_timeout."""
    for step in steps:
        already = any(
            isinstance(op, migrations.RunSQL) and "lock_timeout" in str(op.sql) for op in step.operations
        )
        if step.atomic and not already and any(_touches_tables(op) for op in step.operations):
            step.operations.insert(0, migrations.RunSQL(LOCK_TIMEOUT, migrations.RunSQL.noop))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].strip("_") or "step"


def name_steps(plans: list[Plan], next_number: int, leaf: Key) -> None:
    """Names and dependencies of one app's new steps.

    Each plan's first step keeps the original name and dependencies. The later steps are
    appended after the app's leaf, every pre-deploy step before every post-deploy one, so
    that a deploy can apply the chain up to the first post-deploy migration, switch the
    code, then apply the rest.
    """
    later = [s for p in plans for s in p.steps[1:] if s.phase is not Phase.POST_DEPLOY]
    later += [s for p in plans for s in p.steps[1:] if s.phase is Phase.POST_DEPLOY]
    owner = {id(s): p for p in plans for s in p.steps}
    for plan in plans:
        plan.steps[0].name = plan.name
    previous = leaf
    for step in later:
        slug = _slug(next((s for s in step.slugs if s), "step"))
        step.name = f"{next_number:04d}_{slug}"
        step.dependencies = [previous]
        next_number += 1
        previous = (owner[id(step)].app_label, step.name)


def migration_number(name: str) -> int | None:
    match = re.match(r"^(\d+)_", name)
    return int(match.group(1)) if match else None


# --- plans for a lint run -------------------------------------------------------------------------


def plans_for(run: Any, config: Any) -> list[Plan]:
    """A plan for every must-split migration of a lint run, named and chained per app."""
    import django

    from ..offline import offline_connection

    report = run.report
    loaded = run.loaded
    version = int(report.target.get("server_version") or 0) or 14
    connection = offline_connection(config.database or "default", version)
    target = Target(version, tuple(django.VERSION[:2]))
    collected = {m.key: m for m in run.collected}
    by_key: dict[Key, list[Finding]] = {}
    for finding in report.findings:
        by_key.setdefault((finding.location.app_label, finding.location.migration), []).append(finding)
    graph = loaded.graph
    plans = []
    for result in report.migrations:
        if result.phase is not Phase.MUST_SPLIT:
            continue
        key = (result.app_label, result.name)
        migration = graph.nodes[key]
        state = loaded.loader.project_state(key, at_end=False)
        try:
            plan = build_plan(
                migration,
                state,
                collected[key],
                by_key.get(key, []),
                connection,
                target,
                reason=result.phase_reason or "",
            )
        except Exception as exc:  # noqa: BLE001 - an operation shape no recipe foresaw: say so
            plan = Plan(key[0], key[1], result.phase_reason or "")
            plan.problems.append(
                f"could not plan it: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
        if plan.ok:
            later = _later_changes_to_same_models(graph, key, migration)
            if later:
                plan.notes.append(
                    "later migrations also change these models ("
                    + ", ".join(later[:4])
                    + (", ..." if len(later) > 4 else "")
                    + "): the later steps are written for the models as this migration leaves them; "
                    "--fix checks the whole chain and refuses if they clash (fix the later ones first)"
                )
            plan.steps[0].dependencies = list(migration.dependencies)
            if plan.steps[0].phase is Phase.POST_DEPLOY and graph.node_map[key].children:
                # Later migrations depend on this one by name: keep a pre-deploy migration
                # of that name, empty, so the chain up to the deploy stays unbroken.
                placeholder = Step(
                    Phase.PRE_DEPLOY,
                    [],
                    titles=["nothing before the deploy: the work moves to post-deploy migrations"],
                )
                placeholder.dependencies = plan.steps[0].dependencies
                plan.steps.insert(0, placeholder)
        plans.append(plan)
    for app in dict.fromkeys(p.app_label for p in plans if p.ok):
        numbers = [migration_number(k[1]) or 0 for k in graph.nodes if k[0] == app]
        app_leaves = sorted(graph.leaf_nodes(app))
        name_steps(
            [p for p in plans if p.ok and p.app_label == app], max(numbers, default=0) + 1, app_leaves[-1]
        )
    return plans


def _later_changes_to_same_models(graph: Any, key: Key, migration: Any) -> list[str]:
    """Migrations after ``key`` (its descendants) whose operations name one of its models."""

    def models_of(mig: Any) -> set[str]:
        names = set()
        stack = list(mig.operations)
        while stack:
            op = stack.pop()
            stack += [*getattr(op, "state_operations", ()), *getattr(op, "database_operations", ())]
            for attr in ("model_name", "name", "old_name"):
                value = getattr(op, attr, None)
                if isinstance(value, str) and (attr != "name" or not hasattr(op, "model_name")):
                    names.add(value.lower())
        return names

    mine = models_of(migration)
    found = []
    later: set[Key] = set()
    stack = list(graph.node_map[key].children)
    while stack:
        node = stack.pop()
        if node.key not in later:
            later.add(node.key)
            stack.extend(node.children)
    for other in sorted(later):
        if other == key or other[0] != key[0]:
            continue
        if models_of(graph.nodes[other]) & mine:
            found.append(other[1])
    return found
