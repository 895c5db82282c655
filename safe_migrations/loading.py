"""Load the migration graph once, reporting broken migration files instead of crashing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db.migrations import Migration
from django.db.migrations import loader as django_loader
from django.db.migrations.exceptions import BadMigrationError, CircularDependencyError, NodeNotFoundError
from django.db.migrations.loader import MigrationLoader

from .findings import LoadError
from .reads import Reads

Key = tuple[str, str]


class _BrokenMigration(Migration):
    """Placeholder for a migration file that could not be imported."""

    safe_migrations_broken = ""


@dataclass
class LoadedGraph:
    loader: MigrationLoader
    errors: list[LoadError] = field(default_factory=list)
    files: dict[Key, Path] = field(default_factory=dict)
    # Files opened while the migration modules were imported (a .sql a RunSQL reads, say).
    read: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def graph(self) -> Any:
        return self.loader.graph

    def full_plan(self) -> list[Key]:
        """Every node in forwards order, as ``loader.project_state()`` walks them."""
        plan: list[Key] = []
        seen: set[Key] = set()
        for leaf in sorted(self.graph.leaf_nodes()):
            for key in self.graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    plan.append(key)
        return plan


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error: {exc.msg} (line {exc.lineno})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def _tolerant_imports(broken: dict[str, str]) -> Iterator[None]:
    """Let Django's load_disk go on past a migration module that fails to import."""
    real_import = django_loader.import_module

    def import_module(name: str) -> ModuleType:
        parent = name.rpartition(".")[0]
        is_migration_file = hasattr(sys.modules.get(parent), "__path__")
        try:
            module = real_import(name)
        except Exception as exc:
            if not is_migration_file:
                raise
            broken[name] = _one_line(exc)
            module = ModuleType(name)
        if is_migration_file and not hasattr(module, "Migration"):
            broken.setdefault(name, "no Migration class in the module")
            stub = type("Migration", (_BrokenMigration,), {"safe_migrations_broken": broken[name]})
            module.Migration = stub  # type: ignore[attr-defined]
        return module

    django_loader.import_module = import_module
    try:
        yield
    finally:
        django_loader.import_module = real_import


class TolerantLoader(MigrationLoader):
    """A MigrationLoader that drops broken migrations (and what depends on them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.load_errors: list[LoadError] = []
        self.migration_files: dict[Key, Path] = {}
        self.files_read: set[str] = set()
        self.cycles: list[list[Key]] = []  # found by build_graph; dropped on the next load_disk
        super().__init__(*args, **kwargs)

    def build_graph(self) -> None:
        """Django's build_graph; a dependency cycle drops its migrations instead of the run."""
        while True:
            try:
                super().build_graph()
                return
            except CircularDependencyError:
                cycle = find_cycle(self.graph)
                if not cycle or any(set(cycle) <= set(known) for known in self.cycles):
                    raise
                self.cycles.append(cycle)

    def load_disk(self) -> None:
        self.load_errors = []  # build_graph may load the disk again (after a cycle)
        self.migration_files = {}
        broken_modules: dict[str, str] = {}
        with _tolerant_imports(broken_modules), Reads() as reads:
            super().load_disk()
        self.files_read.update(reads.files)
        for key, migration in self.disk_migrations.items():
            module = sys.modules.get(type(migration).__module__)
            path = getattr(module, "__file__", None)
            if path and not isinstance(migration, _BrokenMigration):
                self.migration_files[key] = Path(path)
        broken: dict[Key, str] = {}
        for key, migration in self.disk_migrations.items():
            if isinstance(migration, _BrokenMigration):
                broken[key] = f"cannot import migration: {migration.safe_migrations_broken}"
        for cycle in self.cycles:
            if len(cycle) == 1:
                what = f"{cycle[0][0]}.{cycle[0][1]} depends on itself"
            else:
                what = " -> ".join(f"{a}.{n}" for a, n in [*cycle, cycle[0]]) + " (each depends on the next)"
            for key in cycle:
                broken.setdefault(key, f"circular dependency: {what}")
        for key, message in broken.items():
            self.load_errors.append(LoadError(message, key[0], key[1], self._file_of(key)))
        self._prune(set(broken))

    def _file_of(self, key: Key) -> str | None:
        if key in self.migration_files:
            return str(self.migration_files[key])
        module_name, _ = self.migrations_module(key[0])
        if module_name:
            package = sys.modules.get(module_name)
            if package is not None and getattr(package, "__path__", None):
                return str(Path(next(iter(package.__path__))) / f"{key[1]}.py")
        return None

    def _prune(self, removed: set[Key]) -> None:
        """Drop broken migrations, migrations with a missing dependency, and dependents."""
        changed = True
        while changed:
            changed = False
            for key, migration in list(self.disk_migrations.items()):
                if key in removed:
                    continue
                for dep in migration.dependencies:
                    named = dep[1] not in ("__first__", "__latest__")
                    if dep in removed:
                        reason = f"skipped: depends on {dep[0]}.{dep[1]}, which cannot be loaded"
                    elif dep[0] not in self.migrated_apps and dep[0] not in self.unmigrated_apps:
                        reason = (
                            f"depends on {dep[0]}.{dep[1]}, but no installed app has the label {dep[0]!r}"
                        )
                    elif dep[0] in self.unmigrated_apps and named:
                        reason = f"depends on {dep[0]}.{dep[1]}, but app {dep[0]!r} has no migrations package"
                    elif (
                        dep[0] in self.migrated_apps
                        and named
                        and dep not in self.disk_migrations
                        and not any(dep in m.replaces for m in self.disk_migrations.values())
                    ):
                        reason = f"depends on a migration that does not exist: {dep[0]}.{dep[1]}"
                    else:
                        continue
                    self.load_errors.append(LoadError(reason, key[0], key[1], self._file_of(key)))
                    removed.add(key)
                    changed = True
                    break
        for key in removed:
            self.disk_migrations.pop(key, None)


def _ignored_migration_folders(loader: MigrationLoader) -> list[str]:
    """Apps whose migrations folder holds migration files but no ``__init__.py``: Django takes
    such a folder (a namespace package) for "no migrations", so migrate never runs them."""
    out = []
    for label in sorted(loader.unmigrated_apps):
        module_name, _ = loader.migrations_module(label)
        package = sys.modules.get(module_name or "")
        search = getattr(package, "__path__", None)
        if package is None or getattr(package, "__file__", None) is not None or search is None:
            continue
        for folder in map(Path, list(search)):
            if any(p.name[:1].isdigit() for p in folder.glob("*.py")):
                out.append(
                    f"app {label!r}: {folder} has migration files but no __init__.py; "
                    "Django ignores the folder (migrate will not run them), and so does this lint"
                )
    return out


def find_cycle(graph: Any) -> list[Key]:
    """One dependency cycle of a migration graph, each node depending on the next ([] if none)."""
    done: set[Key] = set()
    for start in sorted(graph.nodes):
        if start in done:
            continue
        path: list[Key] = [start]
        on_path = {start}
        stack = [iter(sorted(c.key for c in graph.node_map[start].parents))]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                stack.pop()
            elif parent in on_path:
                return path[path.index(parent) :]
            elif parent not in done:
                path.append(parent)
                on_path.add(parent)
                stack.append(iter(sorted(c.key for c in graph.node_map[parent].parents)))
    return []


def load_graph(connection: Any = None, *, replace_migrations: bool = True) -> LoadedGraph:
    """Build the graph (connection None: offline, nothing counts as applied)."""
    try:
        loader = TolerantLoader(connection, ignore_no_migrations=True, replace_migrations=replace_migrations)
    except (NodeNotFoundError, BadMigrationError, ValueError) as exc:
        raise GraphError(_one_line(exc)) from exc
    except ImportError as exc:
        raise GraphError(f"cannot import a migrations package: {_one_line(exc)}") from exc
    # Django's loader finds migrations through a set: sorted, the errors read the same on every run.
    errors = sorted(loader.load_errors, key=lambda e: (e.app_label or "", e.migration or "", e.message))
    loaded = LoadedGraph(loader, errors, dict(loader.migration_files), set(loader.files_read))
    loaded.warnings.extend(_ignored_migration_folders(loader))
    for app_label, names in sorted(loader.detect_conflicts().items()):
        loaded.errors.append(
            LoadError(
                "conflicting migrations (several leaf nodes): "
                + ", ".join(sorted(names))
                + "; run makemigrations --merge",
                app_label,
            )
        )
    return loaded


class GraphError(Exception):
    """The migration graph cannot be built at all (a one-line message)."""
