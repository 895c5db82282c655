"""The squash plan as frozen data: per app counts, schedule, range, notes and cleanups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..conf import SquashThresholds

Key = tuple[str, str]

BLOCKER = "blocker"
CAUTION = "caution"
INFO = "info"


@dataclass(frozen=True)
class Note:
    """Something about the range or a squash: ``level`` is blocker, caution or info."""

    level: str
    kind: str  # kebab-case, stable (documented in docs/squashplan.md)
    message: str
    migration: str | None = None  # the app's migration it is about


@dataclass(frozen=True)
class SquashRange:
    """The migrations ``squashmigrations`` would replace now (both ends included)."""

    names: tuple[str, ...]
    cut: str | None = None  # why the range ends before the app's latest migration

    @property
    def start(self) -> str:
        return self.names[0]

    @property
    def end(self) -> str:
        return self.names[-1]


@dataclass(frozen=True)
class DependencyEdit:
    """A migration that names a replaced migration and must name the squash instead."""

    migration: Key
    file: str | None
    attribute: str  # "dependencies" or "run_before"
    old: Key
    new: Key


@dataclass(frozen=True)
class Cleanup:
    """A squashed migration (one with ``replaces``) and what removing its old files takes."""

    name: str
    file: str | None
    replaces: tuple[Key, ...]
    present: tuple[str, ...]  # replaced migration files still on disk (paths)
    status: str  # "due" | "partly-applied" | "unverified"
    applied: int | None  # replaced migrations applied on --database (None: not checked)
    edits: tuple[DependencyEdit, ...]
    steps: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class AppPlan:
    app_label: str
    migrations: int  # migration files on disk
    since_last_squash: int
    last_squash: str | None
    oldest: str | None  # the oldest migration after the last squash
    oldest_added: datetime | None
    oldest_source: str | None  # "git" | "mtime"
    age_days: int | None
    rate: float  # migrations per month over the window
    due: bool
    due_at: datetime | None  # None: never at the current rate
    range: SquashRange | None
    notes: tuple[Note, ...]
    cleanups: tuple[Cleanup, ...]

    @property
    def blocked(self) -> bool:
        return any(n.level == BLOCKER for n in self.notes)


@dataclass(frozen=True)
class Plan:
    as_of: datetime
    thresholds: SquashThresholds
    database: str | None  # the alias django_migrations was read from
    apps: tuple[AppPlan, ...]
    notes: tuple[str, ...] = ()  # about the whole run (git history)

    @property
    def due(self) -> tuple[AppPlan, ...]:
        return tuple(a for a in self.apps if a.due)
