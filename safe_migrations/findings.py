"""Findings and reports: frozen data, no Django import."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so that ``>=`` compares gravity (``--fail-on``)."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r} (expected error, warning or info)") from None


class Phase(str, enum.Enum):
    """When a migration may run in a blue/green deploy."""

    PRE_DEPLOY = "pre-deploy"
    POST_DEPLOY = "post-deploy"
    MUST_SPLIT = "must-split"


@dataclass(frozen=True)
class Fix:
    """The safe way: a title, ordered steps and the Django code to paste."""

    title: str
    steps: tuple[str, ...] = ()
    code: str = ""


@dataclass(frozen=True)
class Location:
    """Where a finding comes from, down to the SQL statement."""

    app_label: str
    migration: str
    file: str | None = None
    line: int | None = None
    operation_index: int | None = None
    operation: str | None = None
    sql: str | None = None


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: Severity
    message: str
    location: Location
    lock: str | None = None
    table: str | None = None
    fix: Fix | None = None
    suppressed: str | None = None  # the reason, when a suppression matched

    @property
    def sort_key(self) -> tuple[str, str, int, int, str]:
        loc = self.location
        return (
            loc.app_label,
            loc.migration,
            -1 if loc.operation_index is None else loc.operation_index,
            -int(self.severity),
            self.rule,
        )


@dataclass(frozen=True)
class MigrationResult:
    """One linted migration: identity, shape, and its phase when computed."""

    app_label: str
    name: str
    file: str | None
    atomic: bool
    operations: int
    statements: int
    phase: Phase | None = None
    cached: bool = False
    phase_reason: str | None = None  # why the phase (phases.classify)


@dataclass(frozen=True)
class LoadError:
    """A user mistake found while loading or collecting (no traceback shown)."""

    message: str
    app_label: str | None = None
    migration: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...] = ()
    migrations: tuple[MigrationResult, ...] = ()
    errors: tuple[LoadError, ...] = ()
    target: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is None)

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is not None)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.active if f.severity == severity)

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.active), default=None)
