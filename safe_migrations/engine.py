"""Run a lint: load, select, collect (with cache), parse, apply rules. Returns a Report, prints nothing."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.utils import ConnectionDoesNotExist

from . import offline, parallel, phases
from .cache import Cache, chain_keys, inputs_digest
from .conf import Config, ConfigError
from .context import MigrationContext, Target
from .facts import CollectedMigration
from .findings import Finding, LoadError, Location, MigrationResult, Report, Severity
from .loading import LoadedGraph, load_graph
from .parsing import parse_migration
from .rules import Rule, all_rules
from .selection import select
from .sqlcollect import MigrationCollector, walk
from .suppressions import apply_suppressions

Key = tuple[str, str]


class DatabaseUnavailable(Exception):
    """A database the run needs cannot be reached (exit code 3)."""


@dataclass(frozen=True)
class Request:
    app_labels: tuple[str, ...] = ()
    migration_name: str | None = None
    pending: bool = False
    since: str | None = None
    trace: bool = False  # --trace: apply the pending migrations to a scratch database
    trace_database: str | None = None  # --trace-database: the alias whose server hosts it


@dataclass
class Run:
    """Everything one lint produced: the report and the collected migrations."""

    report: Report
    collected: list[CollectedMigration] = field(default_factory=list)
    loaded: LoadedGraph | None = None
    # What --plan and --fix need besides the report (phases.py, planning/).
    plan: list[Key] = field(default_factory=list)
    applied: frozenset[Key] | None = None  # --pending: applied on the database
    base_keys: frozenset[Key] | None = None  # --since: present at the base ref
    warnings: list[str] = field(default_factory=list)  # printed on stderr; the exit code ignores them


def _settings_dict(alias: str) -> dict[str, Any]:
    try:
        return connections[alias].settings_dict
    except ConnectionDoesNotExist:
        raise ConfigError(f"no database alias {alias!r} in settings.DATABASES") from None


def _timeout_in_options(settings_dict: dict[str, Any], name: str) -> bool:
    """Whether the connection OPTIONS set GUC ``name`` to a non-zero value (``-c name=2s``)."""
    options = settings_dict.get("OPTIONS") or {}
    text = " ".join(str(v) for v in options.values()) if isinstance(options, dict) else str(options)
    found = re.findall(rf"{name}\s*=\s*'?([0-9.]*)", text)
    return any(value.strip(".") not in ("", "0") and float(value) != 0 for value in found)


def live_connection(alias: str) -> Any:
    """The configured connection, opened now so that a dead server fails early."""
    from django.db import OperationalError

    connection = connections[alias]
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        first = str(exc).strip().splitlines()
        raise DatabaseUnavailable(
            f"database {alias!r} is unreachable: {first[0] if first else type(exc).__name__}"
        ) from None
    return connection


def _session_utc(settings_dict: dict[str, Any]) -> bool:
    """Django's DatabaseWrapper.timezone_name: UTC unless USE_TZ is off or a TIME_ZONE is set."""
    from django.conf import settings

    if not settings.USE_TZ:
        return settings.TIME_ZONE in (None, "UTC")
    return settings_dict.get("TIME_ZONE") in (None, "UTC")


def open_connection(config: Config, pending: bool) -> tuple[Any, Target]:
    """The connection SQL is generated with, and the target it stands for."""
    import django

    alias = config.database or DEFAULT_DB_ALIAS
    settings_dict = _settings_dict(alias)
    common: dict[str, Any] = {
        "lock_timeout_configured": bool(config.lock_timeout)
        or _timeout_in_options(settings_dict, "lock_timeout"),
        "statement_timeout_configured": bool(config.statement_timeout)
        or _timeout_in_options(settings_dict, "statement_timeout"),
        "session_utc": _session_utc(settings_dict),
        "django_version": tuple(django.VERSION[:2]),
    }
    if offline.is_postgresql(settings_dict) and not pending:
        version = config.pg_version or offline.default_server_version(alias)
        return offline.offline_connection(alias, version), Target("postgresql", version, **common)
    connection = live_connection(alias)
    version = connection.pg_version // 10000 if connection.vendor == "postgresql" else 0
    return connection, Target(connection.vendor, version, **common)


def _server_version_label(connection: Any, target: Target) -> str:
    """The major version PostgreSQL SQL is generated for; the live server's version elsewhere
    (the rules read only PostgreSQL's)."""
    if target.vendor == "postgresql":
        return str(target.server_version)
    try:
        return ".".join(str(part) for part in connection.get_database_version())
    except Exception:  # noqa: BLE001 - a backend without it: unknown rather than a wrong number
        return ""


def pending_keys(connection: Any) -> tuple[LoadedGraph, set[Key]]:
    """Load the graph against the live database, reading django_migrations.

    On PostgreSQL the connection is the gate's read-only one (gate.readonly): each
    query runs in its own READ ONLY transaction with short timeouts.
    """
    loaded = load_graph(connection)
    applied = set(loaded.loader.applied_migrations)
    try:
        loaded.loader.check_consistent_history(connection)
    except InconsistentMigrationHistory as exc:  # migrate refuses to run on this database
        loaded.errors.append(LoadError(f"{str(exc).rstrip('.')}: migrate would refuse to run"))
    return loaded, {k for k in loaded.graph.nodes if k not in applied}


@contextlib.contextmanager
def spaced_gc_passes(first_generation: int = 10_000) -> Iterator[None]:
    """Fewer cyclic garbage collector passes while a whole lint runs.

    A cold run allocates millions of short-lived objects (parse trees, rendered models,
    facts) and, at the default threshold of 700 allocations, spends a fifth of its time
    in the collector, mostly re-traversing what Django and the imports left in memory.
    Those objects are frozen (never traversed again until unfrozen) and the first
    generation collected every ``first_generation`` allocations instead; both are
    restored on exit (a process that froze objects itself keeps them as they are). The
    garbage is the same, collected later.
    """
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(first_generation, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def lint(config: Config, request: Request) -> Run:
    if request.trace and not request.pending:
        raise ConfigError("--trace needs --pending")
    if request.pending:
        alias = config.database or DEFAULT_DB_ALIAS
        if offline.is_postgresql(_settings_dict(alias)):
            from .gate import readonly

            # Everything that goes through the alias from here on is read-only.
            with readonly.target(
                alias,
                statement_timeout_ms=config.gate_statement_timeout_ms,
                lock_timeout_ms=config.gate_lock_timeout_ms,
            ):
                return _lint(config, request)
        if request.trace:
            raise ConfigError("--trace needs a PostgreSQL database")
    return _lint(config, request)


def _changed_since(started_ns: int, paths: list[str]) -> bool:
    """Whether a file was modified after the run started (an editor saving during a lint)."""
    for path in paths:
        try:
            if os.stat(path).st_mtime_ns >= started_ns:
                return True
        except OSError:
            return True
    return False


def _lint(config: Config, request: Request) -> Run:
    started = time.time_ns()
    connection, target = open_connection(config, request.pending)
    if request.pending:
        loaded, pending = pending_keys(connection)
    else:
        loaded, pending = load_graph(None), None
    plan = loaded.full_plan()
    selection = select(
        loaded,
        plan,
        app_labels=request.app_labels,
        migration_name=request.migration_name,
        include_third_party=config.include_third_party,
        pending=pending,
        since=request.since,
        root=config.root,
    )
    errors: list[LoadError] = [_relative_error(e, config.root) for e in loaded.errors]
    cache = Cache(config.cache_dir) if config.cache_dir is not None else None
    digests: dict[Key, str] = {}
    hashed: list[str] = []  # the files the keys were computed from
    if cache is not None:
        inputs, used = inputs_digest(loaded, exclude=config.cache_dir)
        hashed = [*map(str, loaded.files.values()), *used]
        digests = chain_keys(
            plan,
            loaded.graph,
            loaded.files,
            vendor=target.vendor,
            server_version=target.server_version,
            inputs=inputs,
            root=config.root,
        )
    signature = _analysis_signature(config, target)
    stored: dict[Key, tuple[list[Finding], MigrationResult]] = {}
    rules: list[Rule] = []  # imported on the first cache miss only

    def analysis_key(key: Key) -> str | None:
        digest = digests.get(key)
        return f"{digest}:{signature}" if digest else None

    def analyse_one(migration: CollectedMigration, from_cache: bool) -> tuple[list[Finding], MigrationResult]:
        if not rules:
            rules.extend(enabled_rules(config))
        return analyse(migration, target, rules, config, cached=from_cache)

    def on_collected(migration: CollectedMigration, from_cache: bool) -> None:
        """Called as soon as a migration's SQL is known: its analysis can start."""
        akey = analysis_key(migration.key)
        found = cache.get_analysis(akey) if cache is not None and akey else None
        if found is not None:
            stored[migration.key] = found
        else:
            analyses.submit(migration, from_cache)

    selected = set(selection.keys)
    hits = _cache_hits(cache, selected, digests)
    worker = parallel.worth_a_worker(len(selected) - len(hits), config.parallel)
    if worker:
        rules.extend(enabled_rules(config))  # imported once, before the worker forks
    findings: list[Finding] = []
    results: list[MigrationResult] = []
    with parallel.Analyses(analyse_one, worker=worker) as analyses:
        collected = collect(
            config, loaded, plan, selected, connection, target, errors, hits, cache, digests, on_collected
        )
        for migration, from_cache in collected:
            if migration.key in stored:
                found, result = stored[migration.key]
                result = replace(result, cached=True)
            else:
                found, result = analyses.result(migration, from_cache)
                akey = analysis_key(migration.key)
                if cache is not None and akey:
                    cache.put_analysis(akey, (found, result))
            findings.extend(found)
            results.append(result)
    if cache is not None and _changed_since(started, hashed):
        cache = None  # a file the keys hashed was edited during the run: keep nothing from it
    warnings: list[str] = list(loaded.warnings)
    if cache is not None:
        try:
            cache.save()
        except OSError as exc:  # the cache only saves time: the lint itself is complete
            warnings.append(
                f"cache not written ({config.cache_dir}): {exc.strerror}; the next run starts cold"
            )
    gate = _gate(findings, config, request, connection, target, plan, pending, [m for m, _ in collected])
    if gate is not None:
        findings = gate.findings
        errors.extend(gate.errors)
    findings.sort(key=lambda f: f.sort_key)
    report = Report(
        findings=tuple(findings),
        migrations=tuple(results),
        errors=tuple(errors),
        target={
            "vendor": target.vendor,
            "server_version": _server_version_label(connection, target),
            "mode": "pending"
            if request.pending
            else "offline"
            if not request.pending and target.vendor == "postgresql"
            else "connection",
            **(gate.target if gate is not None else {}),
        },
        traces=gate.traces if gate is not None else (),
    )
    applied = frozenset(set(plan) - pending) if pending is not None else None
    report = phases.assign(
        report,
        [m for m, _ in collected],
        _running_release(loaded, plan, selection.keys, applied, selection.base_keys),
    )
    return Run(
        report,
        [m for m, _ in collected],
        loaded,
        plan=plan,
        applied=applied,
        base_keys=selection.base_keys,
        warnings=warnings,
    )


def _running_release(
    loaded: LoadedGraph,
    plan: list[Key],
    selected: frozenset[Key],
    applied: frozenset[Key] | None,
    base_keys: frozenset[Key] | None,
) -> phases.RunningRelease | None:
    """The release serving traffic while the migrations run (None: the state before each one)."""
    if not selected:
        return None
    if applied is not None:
        return phases.running_release(loaded, plan, set(applied), "applied migrations")
    if base_keys is not None:
        # Everything but the migrations added since the base: third-party apps are not in git.
        added = {k for k in selected if k not in base_keys}
        return phases.running_release(loaded, plan, set(plan) - added, "base ref")
    return None


def _gate(
    findings: list[Finding],
    config: Config,
    request: Request,
    connection: Any,
    target: Target,
    plan: list[Key],
    pending: set[Key] | None,
    collected: list[CollectedMigration],
) -> Any:
    """The pre-deploy gate's additions (table sizes, --trace): PostgreSQL with --pending only."""
    if not request.pending or pending is None or target.vendor != "postgresql":
        return None
    from .gate import inspect_target

    return inspect_target(
        findings,
        connection=connection,
        config=config,
        trace_requested=request.trace,
        trace_database=request.trace_database,
        plan=plan,
        pending=pending,
        collected=collected,
        target=target,
    )


def _relative_error(error: LoadError, root: Path) -> LoadError:
    if error.file is None:
        return error
    try:
        relative = Path(error.file).resolve().relative_to(root.resolve())
    except ValueError:
        return error
    return replace(error, file=str(relative))


def enabled_rules(config: Config) -> list[Rule]:
    return [r() for r in all_rules() if config.rule_enabled(r.code, r.name)]


def analyse(
    migration: CollectedMigration,
    target: Target,
    rules: list[Rule],
    config: Config,
    *,
    cached: bool = False,
) -> tuple[list[Finding], MigrationResult]:
    """Parse one collected migration, run the rules, apply its suppressions."""
    statements = parse_migration(migration)
    ctx = MigrationContext.build(migration, statements, target)
    found = list(apply_suppressions(run_rules(rules, ctx, config), migration))
    result = MigrationResult(
        app_label=migration.app_label,
        name=migration.name,
        file=migration.file,
        atomic=migration.atomic,
        operations=sum(1 for op in migration.operations if not op.database_only),
        statements=len(statements),
        cached=cached,
    )
    return found, result


def _cache_hits(
    cache: Cache | None, selected: set[Key], digests: dict[Key, str]
) -> dict[Key, CollectedMigration]:
    """The selected migrations whose collected SQL the cache holds."""
    hits: dict[Key, CollectedMigration] = {}
    if cache is not None:
        for key in selected:
            found = cache.get(digests[key])
            if found is not None:
                hits[key] = found
    return hits


def _cached_history(
    cache: Cache | None, plan: list[Key], digests: dict[Key, str], hits: dict[Key, CollectedMigration]
) -> dict[Key, CollectedMigration]:
    """Every migration of the plan the cache holds (selected or not).

    Their SQL feeds the offline catalogue, so a partial run (--since, one migration)
    sees the constraint names that renames earlier in the history left behind.
    """
    if cache is None:
        return hits
    history = dict(hits)
    for key in plan:
        if key not in history and (found := cache.entries.get(digests.get(key, ""))) is not None:
            history[key] = found
    return history


def _analysis_signature(config: Config, target: Target) -> str:
    """What findings depend on besides the migration and the tool's code (in the chain key):
    which rules run, their severities, the target."""
    import hashlib

    text = repr(
        (config.select, config.ignore, sorted((k, int(v)) for k, v in config.severities.items()), target)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def collect(
    config: Config,
    loaded: LoadedGraph,
    plan: list[Key],
    selected: set[Key],
    connection: Any,
    target: Target,
    errors: list[LoadError],
    hits: dict[Key, CollectedMigration],
    cache: Cache | None = None,
    digests: dict[Key, str] | None = None,
    on_collected: Callable[[CollectedMigration, bool], None] | None = None,
) -> list[tuple[CollectedMigration, bool]]:
    """Collected migrations in plan order: ``hits`` (from the cache), the others walked.

    ``on_collected`` is called with each one (and whether it came from the cache) as
    soon as it is known: the cached ones first, then each fresh one as the walk
    collects it.
    """
    digests = digests or {}
    if on_collected is not None:
        for key in plan:
            if key in hits:
                on_collected(hits[key], True)
    misses = selected - set(hits)
    fresh: dict[Key, CollectedMigration] = {}
    if misses:
        collector = MigrationCollector(connection, config.root)
        conflicted = set(loaded.loader.detect_conflicts())  # apps with several leaf nodes
        # The offline catalogue parses every statement as it is generated.
        with _trusted_parsing(target):
            for item in walk(
                loaded.graph,
                plan,
                misses,
                collector,
                loaded.files,
                real_apps=loaded.loader.unmigrated_apps,
                replay=_cached_history(cache, plan, digests, hits),
            ):
                if item.error is not None:
                    error = item.error
                    if item.key[0] in conflicted:  # a branch walked after the other one
                        note = " (the app has conflicting leaf nodes: its branches were walked one after the other)"
                        error = replace(error, message=error.message + note)
                    errors.append(error)
                elif item.collected is not None:
                    fresh[item.key] = item.collected
                    if on_collected is not None:
                        on_collected(item.collected, False)
                    if cache is not None:
                        cache.put(digests[item.key], item.collected)
    out = []
    for key in plan:
        if key in fresh:
            out.append((fresh[key], False))
        elif key in hits:
            out.append((hits[key], True))
    return out


def _trusted_parsing(target: Target) -> contextlib.AbstractContextManager[None]:
    if target.vendor != "postgresql":
        return contextlib.nullcontext()
    from .parsing.postgres import trusted_nodes

    return trusted_nodes()


_OVERRIDES: dict[type[Rule], tuple[bool, bool, bool]] = {}


def _overrides(rule_type: type[Rule]) -> tuple[bool, bool, bool]:
    """Which of the three check methods a rule class defines (the others find nothing)."""
    found = _OVERRIDES.get(rule_type)
    if found is None:
        found = _OVERRIDES[rule_type] = (
            rule_type.check_migration is not Rule.check_migration,
            rule_type.check_operation is not Rule.check_operation,
            rule_type.check_statement is not Rule.check_statement,
        )
    return found


def run_rules(rules: Iterable[Rule], ctx: MigrationContext, config: Config) -> Iterable[Finding]:
    migration = ctx.migration
    for rule in rules:
        if ctx.target.vendor not in rule.vendors and "*" not in rule.vendors:
            continue
        by_migration, by_operation, by_statement = _overrides(type(rule))
        hits = [
            *(rule.check_migration(ctx) if by_migration else ()),
            *(h for op in (ctx.operations if by_operation else ()) for h in rule.check_operation(op, ctx)),
            *(
                h
                for stmt in (ctx.statements if by_statement else ())
                for h in rule.check_statement(stmt, ctx)
            ),
        ]
        for hit in hits:
            op = hit.operation or (hit.statement.operation if hit.statement else None)
            severity = config.severities.get(rule.code, hit.severity or rule.severity)
            yield Finding(
                rule=rule.code,
                name=rule.name,
                severity=Severity(severity),
                message=hit.message,
                location=Location(
                    app_label=migration.app_label,
                    migration=migration.name,
                    file=migration.file,
                    line=op.line if op else None,
                    operation_index=op.index if op else None,
                    operation=op.describe if op else None,
                    sql=hit.statement.sql if hit.statement else None,
                ),
                lock=hit.lock,
                table=hit.table,
                fix=hit.fix,
            )
