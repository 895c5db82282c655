"""Which migrations to lint: own apps, named apps/migrations, pending, or changed since a git ref."""

from __future__ import annotations

import subprocess
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.db.migrations.exceptions import AmbiguityError

from .loading import LoadedGraph

Key = tuple[str, str]


class SelectionError(ValueError):
    """An unknown app, migration or git ref (exit code 2)."""


@dataclass(frozen=True)
class Selection:
    keys: frozenset[Key]
    base_keys: frozenset[Key] | None = None  # migrations present at the --since base


_LIBRARY_DIRS = {
    Path(p).resolve()
    for p in {sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib")}
    if p
}


def is_third_party(app_label: str) -> bool:
    """An app whose code lives in site-packages (or is Django's own)."""
    path = Path(apps.get_app_config(app_label).path).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return True
    return any(path.is_relative_to(lib) for lib in _LIBRARY_DIRS)


def check_app(loaded: LoadedGraph, label: str) -> None:
    """An installed app with migrations, else a SelectionError naming it."""
    try:
        apps.get_app_config(label)
    except LookupError:
        raise SelectionError(f"no installed app with label {label!r}") from None
    if label not in loaded.loader.migrated_apps:
        raise SelectionError(f"app {label!r} has no migrations")


def select(
    loaded: LoadedGraph,
    plan: list[Key],
    *,
    app_labels: Iterable[str] = (),
    migration_name: str | None = None,
    include_third_party: bool = False,
    pending: set[Key] | None = None,
    since: str | None = None,
    root: Path | None = None,
) -> Selection:
    labels = list(app_labels)
    for label in labels:
        check_app(loaded, label)
    if migration_name is not None:
        if len(labels) != 1:
            raise SelectionError("a migration name needs exactly one app label before it")
        try:
            migration = loaded.loader.get_migration_by_prefix(labels[0], migration_name)
        except AmbiguityError:
            raise SelectionError(
                f"more than one migration of {labels[0]!r} starts with {migration_name!r}"
            ) from None
        except KeyError:
            # A migration that exists on disk but could not be loaded: say why, not "no migration".
            broken = [
                e
                for e in loaded.errors
                if e.app_label == labels[0] and e.migration and e.migration.startswith(migration_name)
            ]
            if len(broken) == 1:
                error = broken[0]
                where = error.file or f"{error.app_label}.{error.migration}"
                raise SelectionError(f"{where}: {error.message}") from None
            raise SelectionError(f"no migration {labels[0]}.{migration_name}") from None
        key = (migration.app_label, migration.name)
        if key not in plan:
            squash = next(
                (k for k, m in loaded.loader.replacements.items() if key in set(map(tuple, m.replaces))), None
            )
            if squash is not None:
                raise SelectionError(
                    f"{key[0]}.{key[1]} is replaced by the squashed migration {squash[0]}.{squash[1]}, "
                    "which is what migrate runs here: lint that one (or use --pending on a database "
                    "where the squash is only partly applied)"
                )
        return Selection(frozenset({key}))

    keys = set(plan)
    base_keys = None
    if pending is not None:
        keys &= pending
    if since is not None:
        changed, base_keys = changed_since(loaded, since, root or Path.cwd())
        keys &= changed
    if labels:
        keys = {k for k in keys if k[0] in labels}
    elif pending is None:
        third_party = {label: is_third_party(label) for label in {k[0] for k in keys}}
        keys = {k for k in keys if include_third_party or not third_party[k[0]]}
    return Selection(frozenset(keys), base_keys)


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except FileNotFoundError:
        raise SelectionError("--since needs git, which is not installed") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise SelectionError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return done.stdout


def changed_since(loaded: LoadedGraph, ref: str, cwd: Path) -> tuple[set[Key], frozenset[Key]]:
    """Migrations added or modified since the merge base with ``ref`` (working tree included).

    Also returns the migrations that exist at that base: the running release.
    """
    files = {path.resolve(): key for key, path in loaded.files.items()}
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except SelectionError:
        raise SelectionError(f"--since: unknown git ref {ref!r}") from None
    try:
        base = _git(["merge-base", ref, "HEAD"], top).strip()
    except SelectionError as exc:
        if _git(["rev-parse", "--is-shallow-repository"], top).strip() == "true":
            raise SelectionError(
                f"--since {ref}: no common ancestor with HEAD in this shallow clone; fetch the "
                "whole history (git fetch --unshallow, or fetch-depth: 0 in GitHub Actions)"
            ) from None
        raise SelectionError(f"--since {ref}: {exc}") from None
    names = _git(["diff", "--name-only", "--diff-filter=AMR", base, "--"], top).splitlines()
    names += _git(["ls-files", "--others", "--exclude-standard"], top).splitlines()
    changed = {files[p] for p in ((top / n).resolve() for n in names) if p in files}
    at_base = set(_git(["ls-tree", "-r", "--name-only", base], top).splitlines())
    base_keys = frozenset(
        key
        for path, key in files.items()
        if path.is_relative_to(top) and str(path.relative_to(top)) in at_base
    )
    return changed, base_keys
