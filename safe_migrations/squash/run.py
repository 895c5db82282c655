"""--run: squash a due app with Django's squashmigrations, verify the result, or remove it."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from django.core.management import call_command
from django.db import connections

from ..conf import Config
from ..engine import DatabaseUnavailable, Request, lint
from ..findings import Finding
from ..loading import LoadedGraph, load_graph
from . import catalog, scratch, state
from .model import BLOCKER, AppPlan, Plan
from .plan import relative

Key = tuple[str, str]


@dataclass(frozen=True)
class RunResult:
    app_label: str
    status: str  # "verified" | "failed" | "skipped"
    reason: str  # one line
    file: str | None = None  # the squashed migration (kept only when verified)
    replaced: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # differences found, or what was checked
    notes: tuple[str, ...] = ()  # harmless differences (names left by renames)
    removed: tuple[str, ...] = ()  # files written and removed again
    findings: tuple[Finding, ...] = ()  # lintmigrations on the new migration


class VerificationFailed(Exception):
    def __init__(self, reason: str, details: Iterable[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = tuple(details)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def run(
    plan: Plan, loaded: LoadedGraph, config: Config, scratch_alias: str, labels: Iterable[str] = ()
) -> list[RunResult]:
    """Squash every due, unblocked app of ``plan`` (only ``labels`` when given), one at a time."""
    wanted = set(labels)
    results = []
    for app in plan.apps:
        if wanted and app.app_label not in wanted:
            continue
        skip = _why_skip(app)
        if skip:
            results.append(RunResult(app.app_label, "skipped", skip))
            continue
        scratch.check_server(scratch_alias)
        results.append(squash_app(app, loaded, config, scratch_alias))
        loaded = load_graph(None)  # the next app sees this squash
    return results


def _why_skip(app: AppPlan) -> str | None:
    if not app.due:
        return "not due"
    blocker = next((n for n in app.notes if n.level == BLOCKER), None)
    if blocker is not None:
        where = f"{blocker.migration}: " if blocker.migration else ""
        return f"blocked: {where}{blocker.message}"
    if app.range is None:
        return "nothing to squash"
    return None


def _listing(folder: Path) -> set[Path]:
    return {p for p in folder.iterdir() if p.suffix == ".py"}


def _remove(paths: Iterable[Path], root: Path) -> tuple[str, ...]:
    removed = []
    for path in paths:
        for leftover in (path, Path(importlib.util.cache_from_source(str(path)))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        removed.append(relative(path, root) or str(path))
    importlib.invalidate_caches()
    return tuple(removed)


def _migrations_package(loaded: LoadedGraph, key: Key) -> tuple[Path, str]:
    module_name, _ = loaded.loader.migrations_module(key[0])
    return loaded.files[key].parent, module_name


def squash_app(app: AppPlan, loaded: LoadedGraph, config: Config, scratch_alias: str) -> RunResult:
    """Squash ``app.range``, then keep the file only if the squashed chain is equivalent.

    Checked, in order: squashmigrations succeeds; the new file loads and replaces exactly the
    range; the final model state equals the original's; an empty PostgreSQL database migrated
    with each chain has the same catalog; lintmigrations can lint the new migration.
    """
    assert app.range is not None
    label = app.app_label
    keys = [(label, name) for name in app.range.names]
    folder, module_name = _migrations_package(loaded, keys[0])
    chain = [k for k in loaded.full_plan() if k[0] == label]
    before = _listing(folder)
    written: list[Path] = []
    kept = False
    try:
        original_state = loaded.loader.project_state()
        with scratch.scratch_database(scratch_alias) as alias:
            try:
                scratch.migrate(alias)
            except Exception as exc:  # noqa: BLE001 - any error in user migrations is a reason to stop
                raise VerificationFailed(
                    f"the original chain does not migrate an empty database: {_one_line(exc)}"
                ) from None
            original_catalog = catalog.snapshot(connections[alias])

        # Squashing from the app's first migration lets Django name it 0001_squashed_... and
        # mark it initial; otherwise start and end name the range.
        bounds = [app.range.end] if keys[0] == chain[0] else [app.range.start, app.range.end]
        with scratch.scratch_database(scratch_alias) as alias:
            # Django 4.2's squashmigrations reads django_migrations of "default": inside this
            # block that may be the empty scratch database, which is what it should see.
            try:
                call_command(
                    "squashmigrations",
                    label,
                    *bounds,
                    interactive=False,
                    verbosity=0,
                    stdout=io.StringIO(),
                    stderr=io.StringIO(),
                )
            except Exception as exc:  # noqa: BLE001 - CommandError, a serializer ValueError, OSError...
                written = sorted(_listing(folder) - before)
                raise VerificationFailed(f"squashmigrations failed: {_one_line(exc)}") from None
            written = sorted(_listing(folder) - before)
            if len(written) != 1:
                raise VerificationFailed(f"squashmigrations wrote {len(written)} files, expected one")
            new_key = (label, written[0].stem)
            importlib.invalidate_caches()
            sys.modules.pop(f"{module_name}.{new_key[1]}", None)

            squashed = load_graph(None)
            if squashed.errors:
                raise VerificationFailed(
                    "the squashed chain does not load",
                    [f"{e.file or e.app_label}: {e.message}" for e in squashed.errors],
                )
            nodes = set(squashed.graph.nodes)
            if new_key not in nodes or any(k in nodes for k in keys):
                raise VerificationFailed(
                    f"{new_key[1]} does not stand in for {app.range.start} .. {app.range.end}"
                )
            diffs = state.differences(original_state, squashed.loader.project_state())
            if diffs:
                raise VerificationFailed("the final model state differs from the original chain's", diffs)
            try:
                scratch.migrate(alias)
            except Exception as exc:  # noqa: BLE001 - the squash is what broke: remove it and say why
                raise VerificationFailed(
                    f"the squashed chain does not migrate an empty database: {_one_line(exc)}"
                ) from None
            squashed_catalog = catalog.snapshot(connections[alias])
        diffs, name_notes = catalog.compare(original_catalog, squashed_catalog)
        if diffs:
            raise VerificationFailed("the PostgreSQL schema differs from the original chain's", diffs)

        try:
            linted = lint(
                replace(config, cache_dir=None), Request(app_labels=(label,), migration_name=new_key[1])
            )
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the squash is kept only when it lints
            raise VerificationFailed(f"lintmigrations failed on {new_key[1]}: {_one_line(exc)}") from None
        if linted.report.errors:
            raise VerificationFailed(
                f"lintmigrations could not lint {new_key[1]}",
                [e.message for e in linted.report.errors],
            )
        kept = True
        return RunResult(
            label,
            "verified",
            f"squashed {app.range.start} .. {app.range.end} ({len(keys)} migrations) into {new_key[1]}",
            file=relative(written[0], config.root),
            replaced=app.range.names,
            details=(
                "the final model state equals the original chain's",
                f"the PostgreSQL schema equals the original chain's ({squashed_catalog.summary()})",
            ),
            notes=tuple(name_notes),
            findings=linted.report.active,
        )
    except VerificationFailed as failure:
        removed = _remove(written, config.root)
        written = []
        return RunResult(
            label,
            "failed",
            failure.reason,
            replaced=app.range.names,
            details=failure.details,
            removed=removed,
        )
    finally:
        if not kept and written:
            _remove(written, config.root)  # also on KeyboardInterrupt or an unexpected error
