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
class TableSize:
    """How big a table is on the target database (``--pending``), read from the catalogue.

    ``rows`` is PostgreSQL's estimate (``pg_class.reltuples``), None when the table was never
    vacuumed or analysed; ``estimated_rows`` is then a count-free guess from its size on disk.
    """

    rows: int | None
    bytes: int | None
    estimated_rows: int | None = None

    @property
    def best_rows(self) -> int | None:
        return self.rows if self.rows is not None else self.estimated_rows


@dataclass(frozen=True)
class ObservedLock:
    """A relation lock a traced statement took, as ``pg_locks`` reported it."""

    relation: str
    kind: str  # table, index, sequence, view, ...
    mode: str  # e.g. "ACCESS EXCLUSIVE"


@dataclass(frozen=True)
class StatementTrace:
    """What PostgreSQL did for one statement run on the scratch database (``--trace``)."""

    index: int  # execution order within the migration
    sql: str
    mode: str  # "transaction", "autocommit" or "autocommit, not observable"
    elapsed_ms: float
    operation_index: int | None = None
    locks: tuple[ObservedLock, ...] = ()  # newly taken, on objects that existed before the migration
    rewritten: tuple[str, ...] = ()  # relfilenode changed
    scanned: tuple[str, ...] = ()  # sequential scans (pg_stat_xact_user_tables)
    predicted: tuple[str, ...] = ()  # the static analysis: "SHARE on t", "rewrite of t"
    differences: tuple[str, ...] = ()  # where the observation and the prediction disagree
    error: str | None = None

    @property
    def observable(self) -> bool:
        return self.mode != "autocommit, not observable"


@dataclass(frozen=True)
class MigrationTrace:
    app_label: str
    name: str
    atomic: bool
    status: str  # "applied", "failed" or "not run"
    statements: tuple[StatementTrace, ...] = ()
    elapsed_ms: float = 0.0
    error: str | None = None


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
    # The pre-deploy gate (--pending / --trace) adds these.
    table_size: TableSize | None = None
    severity_note: str | None = None  # why the size changed the severity
    trace: StatementTrace | None = None

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
    traces: tuple[MigrationTrace, ...] = ()  # --trace: every traced pending migration

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
