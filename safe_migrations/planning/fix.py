"""--fix: replace each must-split migration by its plan's first step and add the later ones.

Nothing is written unless the whole result checks out first: no planned migration is
applied on the database (--pending) or present at the base ref (--since); the fixed
chain ends in the same model state as the original one, app by app; and linting the new
migrations finds no error. ``--dry-run`` prints the unified diff instead of writing.
"""

from __future__ import annotations

import datetime
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.migrations.graph import MigrationGraph

from ..findings import Severity
from ..reads import python_text
from .plan import Key, Plan
from .render import step_file, step_migration


class FixError(Exception):
    """--fix refuses: an applied migration, or a result that fails its own checks (exit 2)."""


@dataclass
class FixOutcome:
    text: str
    warnings: list[str] = field(default_factory=list)
    refused: str = ""  # set when nothing may be written
    written: list[Path] = field(default_factory=list)
    unfixed: list[str] = field(default_factory=list)


@dataclass
class FileChange:
    path: Path
    new: str
    old: str | None  # None: a new file
    step: str


def _guard(run: Any, plans: list[Plan]) -> tuple[list[str], list[str]]:
    """(reasons to refuse, warnings) about rewriting these migrations."""
    refuse = []
    warnings = []
    keys = [p.key for p in plans]
    if run.applied is not None:
        for key in keys:
            if key in run.applied:
                refuse.append(f"{key[0]}.{key[1]} is applied on the database")
    if run.base_keys is not None:
        for key in keys:
            if key in run.base_keys:
                refuse.append(f"{key[0]}.{key[1]} is present at the base ref")
    if run.applied is None and run.base_keys is None and keys:
        warnings.append(
            "not checked against a database (--pending) or a base ref (--since): rewrite only "
            "migrations that no database has applied yet"
        )
    return refuse, warnings


def fixed_graph(graph: Any, plans: list[Plan]) -> tuple[MigrationGraph, list[Key]]:
    """A copy of the migration graph with every plan's steps in place of its migration."""
    new = MigrationGraph()
    migrations: dict[Key, Any] = {}
    for key, migration in graph.nodes.items():
        migrations[key] = migration
    added: list[Key] = []
    for plan in plans:
        original = graph.nodes[plan.key]
        for step in plan.steps:
            key = (plan.app_label, step.name)
            migrations[key] = step_migration(plan, step, original)
            added.append(key)
    for key, migration in migrations.items():
        new.add_node(key, migration)
    for key, migration in migrations.items():
        if key in graph.nodes:
            # Originals, and first steps, which keep their original's name and parents.
            parents = [p.key for p in graph.node_map[key].parents]
        else:
            parents = [tuple(d) for d in migration.dependencies]
        for parent in parents:
            new.add_dependency(migration, key, parent)
    new.validate_consistency()
    return new, added


def _full_plan(graph: Any) -> list[Key]:
    plan: list[Key] = []
    seen: set[Key] = set()
    for leaf in sorted(graph.leaf_nodes()):
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                plan.append(key)
    return plan


def _app_states(graph: Any, real_apps: Any) -> dict[tuple[str, str], Any]:
    state = graph.make_state(real_apps=set(real_apps))
    return dict(state.models)


def verify(run: Any, plans: list[Plan], config: Any) -> list[str]:
    """Reasons the fixed chain is not equivalent or not clean (empty: all good)."""
    from ..context import Target
    from ..engine import analyse, enabled_rules
    from ..offline import offline_connection
    from ..sqlcollect import MigrationCollector, walk

    problems: list[str] = []
    loader = run.loaded.loader
    graph, added = fixed_graph(run.loaded.graph, plans)
    real_apps = loader.unmigrated_apps
    before = _app_states(run.loaded.graph, real_apps)
    try:
        after = _app_states(graph, real_apps)
    except Exception as exc:  # noqa: BLE001 - the planned steps do not apply to the later history
        # A later migration renamed or removed what the plan's steps name (e.g. the model).
        return [
            "the planned steps do not apply on top of the later migrations of the app "
            f"({type(exc).__name__}: {exc}); fix the later migrations first, or squash"
        ]
    apps = {p.app_label for p in plans}
    for key in sorted(set(before) | set(after)):
        if key[0] not in apps:
            continue
        if before.get(key) != after.get(key):
            problems.append(f"the model state of {key[0]}.{key[1]} would differ from the original's")
    version = int(run.report.target.get("server_version") or 14)
    import django

    target = Target(
        "postgresql",
        version,
        lock_timeout_configured=bool(config.lock_timeout),
        django_version=tuple(django.VERSION[:2]),
    )
    connection = offline_connection(config.database or "default", version)
    collector = MigrationCollector(connection, config.root)
    rules = enabled_rules(config)
    order = _full_plan(graph)
    for item in walk(graph, order, set(added), collector, {}, real_apps=real_apps):
        if item.error is not None:
            problems.append(f"{item.key[0]}.{item.key[1]}: {item.error.message}")
            continue
        if item.collected is None:
            continue
        found, _ = analyse(item.collected, target, rules, config)
        for finding in found:
            if finding.suppressed is None and finding.severity >= Severity.ERROR:
                problems.append(
                    f"{item.key[0]}.{item.key[1]} still has {finding.rule} {finding.name}: "
                    f"{finding.message.split('. ')[0]}"
                )
    return problems


def changes(run: Any, plans: list[Plan]) -> list[FileChange]:
    """The files to write: each original replaced, each later step a new file beside it."""
    out: list[FileChange] = []
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    for plan in plans:
        path = run.loaded.files.get(plan.key)
        if path is None:
            raise FixError(f"{plan.app_label}.{plan.name}: its file is not known, cannot rewrite it")
        original = run.loaded.graph.nodes[plan.key]
        total = len(plan.steps)
        for n, step in enumerate(plan.steps, 1):
            header = (
                f"# Generated by lintmigrations --fix on {stamp}: step {n} of {total} "
                f"replacing {plan.app_label}.{plan.name} ({step.phase.value})"
            )
            target = path if n == 1 else path.with_name(f"{step.name}.py")
            if n > 1 and target.exists():
                raise FixError(f"{target} already exists: --fix does not overwrite other migrations")
            old = python_text(path) if n == 1 else None
            out.append(FileChange(target, step_file(plan, step, original, header=header), old, step.name))
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def fix(run: Any, plans: list[Plan], config: Any, *, dry_run: bool = False) -> FixOutcome:
    ready = [p for p in plans if p.ok]
    outcome = FixOutcome("")
    for plan in plans:
        if not plan.ok:
            outcome.unfixed.append(
                f"{plan.app_label}.{plan.name}: no safe sequence planned: " + "; ".join(plan.problems)
            )
    refuse, warnings = _guard(run, ready)
    outcome.warnings += warnings
    outcome.warnings += _phase_order_warnings(run, ready)
    if refuse:
        outcome.refused = "--fix never rewrites a migration that ran somewhere: " + "; ".join(refuse)
        return outcome
    if not ready:
        outcome.text = "nothing to fix\n" if not plans else ""
        outcome.text += "".join(f"not fixed: {u}\n" for u in outcome.unfixed)
        return outcome
    problems = verify(run, ready, config)
    if problems:
        outcome.refused = "the planned migrations fail their own checks, nothing written: " + "; ".join(
            problems
        )
        return outcome
    files = changes(run, ready)
    lines: list[str] = []
    for change in files:
        name = _relative(change.path, config.root)
        if dry_run:
            diff = difflib.unified_diff(
                (change.old or "").splitlines(keepends=True),
                change.new.splitlines(keepends=True),
                fromfile=f"a/{name}" if change.old is not None else "/dev/null",
                tofile=f"b/{name}",
            )
            lines.append("".join(diff))
        else:
            change.path.write_text(change.new, encoding="utf-8")
            outcome.written.append(change.path)
            lines.append(f"{'rewrote' if change.old is not None else 'wrote'} {name}\n")
    lines += [f"not fixed: {u}\n" for u in outcome.unfixed]
    outcome.text = "".join(lines)
    return outcome


def _phase_order_warnings(run: Any, plans: list[Plan]) -> list[str]:
    """New pre-deploy steps are appended after the app's last migration: if post-deploy
    migrations are already there (an earlier --fix), the phases interleave."""
    from ..phases import Phase

    out = []
    graph = run.loaded.graph
    for app in sorted({p.app_label for p in plans}):
        adds_pre = any(
            s.phase is not Phase.POST_DEPLOY for p in plans if p.app_label == app for s in p.steps[1:]
        )
        if not adds_pre:
            continue
        marked = sorted(
            key[1]
            for key, migration in graph.nodes.items()
            if key[0] == app
            and str(getattr(migration, "safe_migrations_phase", "") or "").strip().lower() == "post-deploy"
        )
        if marked:
            out.append(
                f"{app} already has post-deploy migrations ({', '.join(marked[:3])}"
                f"{', ...' if len(marked) > 3 else ''}): the new pre-deploy steps come after them, so "
                "deploy those first or move the new pre-deploy steps before them"
            )
    return out
