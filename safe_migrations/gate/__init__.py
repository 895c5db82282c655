"""The pre-deploy gate (``--pending``): table sizes from the target, and ``--trace``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..conf import Config, ConfigError
from ..context import Target
from ..facts import CollectedMigration
from ..findings import Finding, LoadError, MigrationTrace, StatementTrace

Key = tuple[str, str]


@dataclass
class GateOutput:
    findings: list[Finding]
    traces: tuple[MigrationTrace, ...] = ()
    errors: list[LoadError] = field(default_factory=list)
    target: dict[str, str] = field(default_factory=dict)


def with_sizes(
    findings: list[Finding], connection: Any, config: Config
) -> tuple[list[Finding], dict[str, str]]:
    """Each finding on a table that exists on the target gets its size, and the severity
    the size thresholds give it."""
    from .sizes import rescale, table_sizes

    tables = {f.table for f in findings if f.table}
    sizes, failures = table_sizes(connection, tables)
    pinned = set(config.severities)
    out = [
        rescale(f, sizes[f.table], config.size_thresholds, pinned=pinned) if f.table in sizes else f
        for f in findings
    ]
    notes = {"sizes_unavailable": "; ".join(f"{t}: {why}" for t, why in failures.items())} if failures else {}
    return out, notes


def _server(alias: str, trace_database: str | None) -> tuple[dict[str, Any], str | None, str]:
    """(settings of the server that hosts the scratch database, maintenance database, label)."""
    from django.db import connections
    from django.db.utils import ConnectionDoesNotExist

    if trace_database is None:
        # The target's own server and credentials; the maintenance database is "postgres",
        # never the target.
        return dict(connections[alias].settings_dict), None, f"the server of {alias!r}"
    if trace_database == alias:
        raise ConfigError("--trace-database must name another alias than the database being checked")
    try:
        settings = dict(connections[trace_database].settings_dict)
    except ConnectionDoesNotExist:
        raise ConfigError(
            f"--trace-database: no database alias {trace_database!r} in settings.DATABASES"
        ) from None
    target = connections[alias].settings_dict
    if all(settings.get(k) == target.get(k) for k in ("HOST", "PORT", "NAME")):
        raise ConfigError(f"--trace-database {trace_database!r} points at the database being checked")
    return settings, settings.get("NAME") or None, repr(trace_database)


def run_trace(
    findings: list[Finding],
    *,
    alias: str,
    trace_database: str | None,
    plan: list[Key],
    pending: set[Key],
    collected: list[CollectedMigration],
    target: Target,
) -> GateOutput:
    from . import trace as tracing  # the module, not this function
    from .compare import migration_trace

    settings, maintenance, label = _server(alias, trace_database)
    pending_keys = [k for k in plan if k in pending]
    out = GateOutput(findings)
    if not pending_keys:
        return out
    applied_keys = [k for k in plan if k not in pending]
    outcome = tracing.run(
        alias=alias,
        server_settings=settings,
        maintenance_db=maintenance,
        server_label=label,
        applied_keys=applied_keys,
        pending_keys=pending_keys,
    )
    out.target["trace_database"] = outcome.database
    out.target["trace_cleanup"] = "dropped" if outcome.dropped else "not dropped"
    if outcome.orphans_dropped:
        out.target["trace_orphans_dropped"] = ", ".join(outcome.orphans_dropped)
    if outcome.orphans_left:
        out.target["trace_orphans_left"] = ", ".join(outcome.orphans_left)
    if outcome.setup_error:
        out.errors.append(
            LoadError(f"trace: cannot bring the scratch database to the applied state: {outcome.setup_error}")
        )
        return out
    wanted = {m.key: m for m in collected}
    traced = {a.key: a for a in outcome.applied}
    by_sql: dict[tuple[str, str, str], StatementTrace] = {}
    traces: list[MigrationTrace] = []
    for key in pending_keys:
        migration = wanted.get(key)
        applied = traced.get(key)
        if applied is not None and applied.status == "failed":
            out.errors.append(
                LoadError(
                    f"fails on the scratch database: {applied.error}",
                    key[0],
                    key[1],
                    migration.file if migration else None,
                )
            )
        if migration is None:
            continue
        if applied is None:
            traces.append(MigrationTrace(key[0], key[1], migration.atomic, "not run"))
            continue
        migration_trace_, statements = migration_trace(applied, migration, target)
        traces.append(migration_trace_)
        for sql, statement in statements.items():
            by_sql[(key[0], key[1], sql)] = statement
    out.traces = tuple(traces)
    out.findings = [
        replace(f, trace=by_sql[k])
        if f.location.sql and (k := (f.location.app_label, f.location.migration, f.location.sql)) in by_sql
        else f
        for f in findings
    ]
    return out


def inspect_target(
    findings: list[Finding],
    *,
    connection: Any,
    config: Config,
    trace_requested: bool,
    trace_database: str | None,
    plan: list[Key],
    pending: set[Key],
    collected: list[CollectedMigration],
    target: Target,
) -> GateOutput:
    """Sizes (always, with --pending on PostgreSQL), then the trace when asked for."""
    sized, notes = with_sizes(findings, connection, config)
    if not trace_requested:
        return GateOutput(sized, target=notes)
    out = run_trace(
        sized,
        alias=connection.alias,
        trace_database=trace_database,
        plan=plan,
        pending=pending,
        collected=collected,
        target=target,
    )
    out.target.update(notes)
    return out
