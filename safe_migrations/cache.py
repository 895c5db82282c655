"""On-disk cache of collected migrations, keyed on everything their SQL depends on."""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import django

from . import __version__, reads
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


_INSTALLED = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
_VOLATILE_SETTINGS = frozenset({"SECRET_KEY", "SECRET_KEY_FALLBACKS"})  # often random per process
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _with_real(roots: set[str]) -> tuple[str, ...]:
    return tuple(
        {os.path.join(r, "") for r in roots} | {os.path.join(os.path.realpath(r), "") for r in roots}
    )


@functools.cache
def _versioned() -> tuple[str, ...]:
    """Code whose version is already in the key: Django and this tool."""
    return _with_real({str(Path(django.__file__).parent), str(Path(__file__).parent)})


@functools.cache
def _stdlib() -> tuple[str, ...]:
    return _with_real({os.path.dirname(os.__file__)})


def _installed(path: str) -> bool:
    return any(part in path for part in _INSTALLED)


def _tracked(path: str) -> bool:
    """Not Django, not this tool, not the standard library (site-packages inside it counts)."""
    if path.startswith(_versioned()):
        return False
    return not path.startswith(_stdlib()) or _installed(path)


_METADATA = (f".dist-info{os.sep}", f".egg-info{os.sep}")


def _metadata(path: str) -> bool:
    """An installed package's metadata (read by ``importlib.metadata`` version checks, under
    python -m before the command starts): the package's modules are what count."""
    return any(part in path for part in _METADATA)


def _first_party(path: str) -> bool:
    """The project's own code: tracked, and not an installed package."""
    return _tracked(path) and not _installed(path)


def settings_digest() -> str:
    """Every setting's value (object addresses left out): migrations read settings
    (AUTH_USER_MODEL and other swappable models, DEFAULT_INDEX_TABLESPACE, anything)."""
    from django.conf import settings

    h = hashlib.sha256()
    for name in sorted(dir(settings._wrapped)):
        if name.isupper() and name not in _VOLATILE_SETTINGS:
            try:
                text = repr(getattr(settings, name))
            except Exception:  # noqa: BLE001 - a setting whose repr fails: its name only
                text = "?"
            h.update(f"{name}={_ADDRESS.sub('', text)}\0".encode(errors="surrogateescape"))
    return h.hexdigest()


def inputs_digest(loaded: Any, *, exclude: Path | None = None) -> tuple[str, set[str]]:
    """What a migration's SQL and findings depend on beyond its own file, and the files read.

    - every setting;
    - the project's own modules (anything imported that is not an installed package, the
      standard library, Django or this tool): a custom field, its helpers, a RunPython
      function, a constant of SQL text, the settings module;
    - installed modules the migration modules use (imports, classes' bases, functions);
    - data files read so far in the run, outside ``exclude`` (the cache): a ``.sql`` a
      migration or a helper module reads when imported.
    Any change there invalidates the whole cache.
    """
    migration_files = {str(p) for p in loaded.files.values()}
    modules = {type(m).__module__ for m in loaded.loader.disk_migrations.values()}
    names: set[str] = set()
    submodules: dict[str, set[str]] = {}
    for name in modules:
        module = sys.modules.get(name)
        if module is not None:
            names |= _modules_used(module, submodules)
    skipped = str(exclude) + os.sep if exclude is not None else None
    paths = {
        p
        for p in loaded.read | reads.everything_read()
        if not (skipped and p.startswith(skipped)) and reads.PYCACHE not in p and not _metadata(p)
    }
    paths |= {reads.source_of(p) for p in loaded.read if reads.is_byte_code(p)}
    for name in names - modules:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str):
            paths.add(path)
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        # __main__ is the entry script (manage.py, or this tool under python -m): no
        # migration can import it, and counting it would keep the two from sharing a cache.
        if name != "__main__" and isinstance(path, str) and _first_party(path):
            paths.add(path)
    h = hashlib.sha256(settings_digest().encode())
    hashed = set()
    for path in sorted(paths - migration_files):
        if not _tracked(path) or not os.path.isfile(path):
            continue
        h.update(path.encode(errors="surrogateescape") + b"\0")
        try:
            h.update(Path(path).read_bytes())
        except OSError:
            h.update(b"?")
        hashed.add(path)
    return h.hexdigest(), hashed


def chain_keys(
    plan: list[Key],
    graph: Any,
    files: dict[Key, Path],
    *,
    vendor: str,
    server_version: int | None,
    inputs: str = "",
    root: Path | None = None,
) -> dict[Key, str]:
    """A digest per migration covering its file and, through its parents, all before it."""
    salt = f"{FORMAT}|{tool_digest()}|{django.__version__}|{vendor}|{server_version}|{inputs}|{root}"
    digests: dict[Key, str] = {}
    for key in plan:
        h = hashlib.sha256(salt.encode())
        h.update(repr(key).encode())
        path = files.get(key)
        if path is not None:  # where it is (reports show it), through a symlink too
            h.update(os.fsencode(os.path.realpath(path) if os.path.islink(path) else path))
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
        write_pickle(
            self.folder, self.path, {"format": FORMAT, "entries": self.entries, "analyses": self.analyses}
        )


def write_pickle(cache_dir: Path, path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file), in a cache
    folder that ignores itself in git."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    gitignore = cache_dir / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("# Created by safe_migrations: a local cache.\n*\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
