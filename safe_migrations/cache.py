"""On-disk cache of collected migrations, keyed on everything their SQL depends on."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import django

from . import __version__
from .facts import CollectedMigration

Key = tuple[str, str]
FORMAT = 1
MAX_ENTRIES = 50_000


@functools.cache
def tool_digest() -> str:
    """A digest of this package's own code: an edited checkout (or a new release) never
    answers from findings or SQL an older version produced."""
    h = hashlib.sha256(__version__.encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            continue
    return h.hexdigest()[:16]


def _source(path: str) -> str:
    """The module source a byte-code file was compiled from (itself for anything else)."""
    if f"{os.sep}__pycache__{os.sep}" in path and path.endswith(".pyc"):
        try:
            return importlib.util.source_from_cache(path)
        except ValueError:
            return path
    return path


def _modules_used(module: ModuleType, submodules: dict[str, set[str]]) -> set[str]:
    """Modules whose code a migration module can run: what it imported, the classes' bases."""
    names: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            # `import app.fields` binds `app`: its loaded submodules count too.
            name = value.__name__
            if name not in submodules:
                prefix = name + "."
                submodules[name] = {name, *(n for n in list(sys.modules) if n.startswith(prefix))}
            names |= submodules[name]
        elif isinstance(value, type):
            names.update(getattr(c, "__module__", "") for c in value.__mro__)
        elif callable(value):
            names.add(getattr(value, "__module__", None) or "")
    return names


@functools.cache
def _not_tracked() -> tuple[str, ...]:
    """Code whose version is already in the key: the standard library, Django, this tool."""
    roots = {os.path.dirname(os.__file__), str(Path(django.__file__).parent), str(Path(__file__).parent)}
    return tuple(
        {os.path.join(r, "") for r in roots} | {os.path.join(os.path.realpath(r), "") for r in roots}
    )


def inputs_digest(loaded: Any) -> str:
    """What a migration's SQL and findings depend on beyond its own file: the project modules
    it uses (a custom field, a RunPython function kept elsewhere) and the files read while
    the migrations were imported. Any change there invalidates the whole cache."""
    migration_files = {str(p) for p in loaded.files.values()}
    modules = {type(m).__module__ for m in loaded.loader.disk_migrations.values()}
    names: set[str] = set()
    submodules: dict[str, set[str]] = {}
    for name in modules:
        module = sys.modules.get(name)
        if module is not None:
            names |= _modules_used(module, submodules)
    paths = {_source(p) for p in loaded.read}
    for name in names - modules:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str):
            paths.add(path)
    skip = _not_tracked()
    h = hashlib.sha256()
    for path in sorted(paths - migration_files):
        if path.startswith(skip):
            continue
        h.update(path.encode(errors="surrogateescape") + b"\0")
        try:
            h.update(Path(path).read_bytes())
        except OSError:
            h.update(b"?")
    return h.hexdigest()


def chain_keys(
    plan: list[Key],
    graph: Any,
    files: dict[Key, Path],
    *,
    vendor: str,
    server_version: int | None,
    inputs: str = "",
) -> dict[Key, str]:
    """A digest per migration covering its file and, through its parents, all before it."""
    salt = f"{FORMAT}|{tool_digest()}|{django.__version__}|{vendor}|{server_version}|{inputs}"
    digests: dict[Key, str] = {}
    for key in plan:
        h = hashlib.sha256(salt.encode())
        h.update(repr(key).encode())
        path = files.get(key)
        try:
            h.update(path.read_bytes() if path else b"?")
        except OSError:
            h.update(b"?")
        for parent in sorted(graph.node_map[key].parents, key=lambda n: n.key):
            h.update(digests.get(parent.key, "?").encode())
        digests[key] = h.hexdigest()
    return digests


class Cache:
    """One pickle file of {digest: CollectedMigration}; unreadable means empty."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "collected.pickle"
        self.entries: dict[str, CollectedMigration] = {}
        self.analyses: dict[str, Any] = {}  # analysis key -> (findings, result)
        self.used: set[str] = set()
        self.dirty = False
        try:
            with self.path.open("rb") as fh:
                data = pickle.load(fh)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                self.entries = data["entries"]
                self.analyses = data.get("analyses", {})
        except Exception:  # noqa: BLE001 - a missing or stale cache is just empty
            self.entries = {}

    def get(self, digest: str) -> CollectedMigration | None:
        found = self.entries.get(digest)
        if found is not None:
            self.used.add(digest)
        return found

    def get_analysis(self, key: str) -> Any:
        found = self.analyses.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def put_analysis(self, key: str, value: Any) -> None:
        self.analyses[key] = value
        self.used.add(key)
        self.dirty = True

    def put(self, digest: str, collected: CollectedMigration) -> None:
        self.entries[digest] = collected
        self.used.add(digest)
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        if len(self.entries) + len(self.analyses) > MAX_ENTRIES:
            self.entries = {d: c for d, c in self.entries.items() if d in self.used}
            self.analyses = {d: a for d, a in self.analyses.items() if d in self.used}
        self.folder.mkdir(parents=True, exist_ok=True)
        gitignore = self.folder / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# Created by safe_migrations: a local cache.\n*\n")
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".collected-")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(
                    {"format": FORMAT, "entries": self.entries, "analyses": self.analyses},
                    fh,
                    protocol=pickle.HIGHEST_PROTOCOL,
                )
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
