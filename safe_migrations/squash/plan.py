"""Build the squash plan: per app counts, ages, rate, due date, range, notes and cleanups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..conf import Config
from ..loading import LoadedGraph
from ..selection import check_app, is_third_party
from . import blockers, history, schedule
from .model import BLOCKER, AppPlan, Cleanup, Note, Plan, SquashRange

Key = tuple[str, str]


def planned_apps(loaded: LoadedGraph, labels: Sequence[str], include_third_party: bool = False) -> list[str]:
    """The named apps (each must exist and have migrations), else every own app with migrations."""
    for label in labels:
        check_app(loaded, label)
    if labels:
        return list(dict.fromkeys(labels))
    return sorted(
        label for label in loaded.loader.migrated_apps if include_third_party or not is_third_party(label)
    )


def relative(path: Path | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _chain(plan: Sequence[Key], label: str) -> list[Key]:
    return [key for key in plan if key[0] == label]


def build(
    loaded: LoadedGraph,
    labels: Sequence[str],
    config: Config,
    now: datetime,
    *,
    applied: set[Key] | None = None,
    database: str | None = None,
    exclude: Sequence[str] = (),
) -> Plan:
    """The plan for ``labels`` (or every own app), as of ``now``.

    ``loaded`` is the offline graph: every squash stands in for what it replaces, as on a fresh
    install. Apps in ``exclude`` (some of their migrations cannot be loaded) are left out.
    ``applied`` (from django_migrations on ``database``) decides whether cleanups are due.
    """
    selected = [
        label for label in planned_apps(loaded, labels, config.include_third_party) if label not in exclude
    ]
    disk = loaded.loader.disk_migrations
    paths = {key: rel for key, path in loaded.files.items() if (rel := relative(path, config.root))}
    files = {key: path for key, path in loaded.files.items() if key[0] in selected}
    found = history.load(files, config.root)
    plan = loaded.full_plan()
    ancestry = blockers.Ancestry(loaded.graph, plan)
    out = []
    for label in selected:
        out.append(
            _app_plan(label, loaded, plan, ancestry, disk, paths, found, config, now, applied, database)
        )
    return Plan(
        as_of=now,
        thresholds=config.squash,
        database=database,
        apps=tuple(out),
        notes=found.notes,
    )


def _app_plan(
    label: str,
    loaded: LoadedGraph,
    plan: Sequence[Key],
    ancestry: blockers.Ancestry,
    disk: dict[Key, Any],
    paths: dict[Key, str],
    found: history.History,
    config: Config,
    now: datetime,
    applied: set[Key] | None,
    database: str | None,
) -> AppPlan:
    thresholds = config.squash
    chain = _chain(plan, label)
    squashes = [key for key in chain if disk[key].replaces]
    last_squash = squashes[-1] if squashes else None
    unsquashed = chain[chain.index(last_squash) + 1 :] if last_squash else chain
    added = {key: found.added[key] for key in unsquashed if key in found.added}
    oldest = min(added, key=lambda k: (added[k].at, k[1])) if added else None
    age = found.age_days(oldest, now) if oldest else None
    # A squash file replaces work already counted: the rate counts ordinary migrations only.
    own = [key for key in disk if key[0] == label and not disk[key].replaces]
    rate = found.rate_per_month(own, now, thresholds.window_days)
    due = schedule.is_due(len(unsquashed), age, thresholds)
    when = (
        now
        if due
        else schedule.due_at(len(unsquashed), added[oldest].at if oldest else None, rate, now, thresholds)
    )

    notes: list[Note] = []
    squash_range = None
    if len(unsquashed) >= schedule.MINIMUM:
        length, cut_notes = blockers.cross_app_cut(loaded.graph, ancestry, unsquashed)
        notes.extend(cut_notes)
        names = tuple(key[1] for key in unsquashed[:length])
        cut = next((n.message for n in cut_notes if n.kind == "cross-app-cycle"), None)
        if len(names) >= schedule.MINIMUM:
            squash_range = SquashRange(names, cut)
            for name in names:
                notes.extend(blockers.operation_notes(name, disk[(label, name)]))
        else:
            notes.append(
                Note(
                    BLOCKER,
                    "range-too-short",
                    "fewer than two migrations come before the cross-app cut: nothing to squash "
                    "until the dependency is moved (see the caution above)",
                )
            )
    cleanups: list[Cleanup] = [
        blockers.cleanup(key, disk[key], disk, paths, applied, database) for key in squashes
    ]
    return AppPlan(
        app_label=label,
        migrations=sum(1 for key in disk if key[0] == label),
        since_last_squash=len(unsquashed),
        last_squash=last_squash[1] if last_squash else None,
        oldest=oldest[1] if oldest else None,
        oldest_added=added[oldest].at if oldest else None,
        oldest_source=added[oldest].source if oldest else None,
        age_days=age,
        rate=rate,
        due=due,
        due_at=when,
        range=squash_range,
        notes=tuple(notes),
        cleanups=tuple(cleanups),
    )
