"""What a squash keeps, drops or cannot do: RunPython/RunSQL, cross-app cuts, cleanups due."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.db import migrations as ops

from .model import BLOCKER, CAUTION, INFO, Cleanup, DependencyEdit, Note

Key = tuple[str, str]


def _flat(operations: Sequence[Any]) -> Iterator[Any]:
    """Operations as the database sees them (SeparateDatabaseAndState unpacked)."""
    for operation in operations:
        if isinstance(operation, ops.SeparateDatabaseAndState):
            yield from _flat(operation.database_operations)
        else:
            yield operation


def _unwritable(function: Callable[..., Any]) -> str | None:
    """Why MigrationWriter cannot put a reference to ``function`` in the squashed file."""
    name = getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))
    module = getattr(function, "__module__", "") or ""
    if name == "<lambda>" or "<locals>" in name:
        return f"{name} is a lambda or a nested function, which Django cannot serialize"
    # MigrationWriter turns "import app.migrations.0002_x" into a "manual copying" comment
    # (its regex: a last module part starting with a digit): the written file does not import.
    if module.rpartition(".")[2][:1].isdigit():
        return f"{name}() is defined in the migration module {module}, which the squash cannot import"
    return None


def _function_name(function: Any) -> str:
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module else name


def operation_notes(name: str, migration: Any) -> list[Note]:
    """RunPython and RunSQL of one migration in the range."""
    notes: list[Note] = []
    for operation in _flat(migration.operations):
        if isinstance(operation, ops.RunPython):
            label = f"RunPython {_function_name(operation.code)}"
            if operation.elidable:
                notes.append(
                    Note(
                        INFO,
                        "elided",
                        f"{label} is elidable: the squash drops it (fresh installs skip it)",
                        name,
                    )
                )
                continue
            reasons = [r for f in (operation.code, operation.reverse_code) if f and (r := _unwritable(f))]
            if reasons:
                notes.append(
                    Note(
                        BLOCKER,
                        "manual-porting",
                        f"{label} is not elidable and {reasons[0]}: move the function to an importable "
                        "module (or mark the operation elidable=True if fresh installs do not need it)",
                        name,
                    )
                )
            else:
                notes.append(
                    Note(
                        CAUTION,
                        "kept-runpython",
                        f"{label} is not elidable: it survives the squash, runs on every fresh install, "
                        "and the optimizer cannot merge operations across it",
                        name,
                    )
                )
        elif isinstance(operation, ops.RunSQL):
            sql = operation.sql if isinstance(operation.sql, str) else "; ".join(map(str, operation.sql))
            first = " ".join(sql.split())
            first = first if len(first) <= 60 else first[:57] + "..."
            if operation.elidable:
                notes.append(
                    Note(
                        INFO,
                        "elided",
                        f"RunSQL ({first}) is elidable: the squash drops it; if it changes the schema, "
                        "--run's verification fails",
                        name,
                    )
                )
            else:
                notes.append(
                    Note(
                        CAUTION,
                        "kept-runsql",
                        f"RunSQL ({first}) is not elidable: it survives the squash and the optimizer "
                        "cannot merge operations across it",
                        name,
                    )
                )
    return notes


class Ancestry:
    """Ancestor sets of every node of the graph, as bit masks over the plan order."""

    def __init__(self, graph: Any, plan: Sequence[Key]) -> None:
        self.plan = list(plan)
        self.index = {key: i for i, key in enumerate(self.plan)}
        self.ancestors: dict[Key, int] = {}
        for key in self.plan:  # a topological order: parents come first
            mask = 0
            for parent in graph.node_map[key].parents:
                mask |= self.ancestors[parent.key] | (1 << self.index[parent.key])
            self.ancestors[key] = mask

    def mask(self, keys: Sequence[Key]) -> int:
        out = 0
        for key in keys:
            out |= 1 << self.index[key]
        return out

    def keys(self, mask: int) -> list[Key]:
        return [key for i, key in enumerate(self.plan) if mask >> i & 1]


def cross_app_cut(graph: Any, ancestry: Ancestry, app_range: Sequence[Key]) -> tuple[int, list[Note]]:
    """How many migrations of ``app_range`` can be squashed without a circular dependency.

    While the squash and its old files coexist, Django points every dependency on a replaced
    migration at the squash (MigrationGraph.remove_replaced_nodes, when all or none of them are
    applied). A migration of another app that depends on the range and is itself a dependency of
    a later migration of the range would then sit both before and after the squash:
    CircularDependencyError. The range ends before the first migration that needs one.
    """
    in_range = ancestry.mask(app_range)
    outside_after = 0  # nodes of other apps that depend on the range
    for key in ancestry.plan:
        bit = 1 << ancestry.index[key]
        if not in_range & bit and ancestry.ancestors[key] & in_range:
            outside_after |= bit
    notes: list[Note] = []
    length = len(app_range)
    for position, key in enumerate(app_range):
        through = ancestry.ancestors[key] & outside_after
        if through:
            middle = ancestry.keys(through)[0]
            before = ancestry.keys(ancestry.ancestors[middle] & in_range)[-1]
            length = position
            notes.append(
                Note(
                    CAUTION,
                    "cross-app-cycle",
                    f"depends on {middle[0]}.{middle[1]}, which depends on {before[1]}: squashing across "
                    "it would make a circular dependency (CircularDependencyError), so the range ends before it",
                    key[1],
                )
            )
            break
    # Dependencies into the middle of the (possibly cut) range: fine, but worth knowing.
    squashed = app_range[:length]
    for key in squashed[:-1]:
        for child in sorted(graph.node_map[key].children, key=lambda n: ancestry.index[n.key]):
            if child.key[0] != key[0]:
                notes.append(
                    Note(
                        CAUTION,
                        "cross-app-dependency",
                        f"{child.key[0]}.{child.key[1]} depends on {key[1]}, inside the range: after the "
                        f"squash it waits for the whole squashed range (up to {squashed[-1][1]})",
                        key[1],
                    )
                )
    return length, notes


def cleanup(
    key: Key,
    migration: Any,
    disk: Mapping[Key, Any],
    paths: Mapping[Key, str],
    applied: set[Key] | None,
    database: str | None,
) -> Cleanup:
    """Whether the old files of a squash can go, and the steps Django documents for it.

    https://docs.djangoproject.com/en/stable/topics/migrations/#migration-squashing: delete the
    replaced files, point migrations that depend on them at the squash, remove ``replaces``.
    """
    replaces = tuple(tuple(r) for r in migration.replaces)
    replaced = set(replaces)
    present = tuple(paths.get(r) or f"{r[0]}.{r[1]}" for r in replaces if r in disk)
    edits: list[DependencyEdit] = []
    for other_key, other in sorted(disk.items()):
        if other_key in replaced or other_key == key:
            continue
        for attribute in ("dependencies", "run_before"):
            for dependency in getattr(other, attribute, []):
                if tuple(dependency) in replaced:
                    edits.append(
                        DependencyEdit(other_key, paths.get(other_key), attribute, tuple(dependency), key)
                    )
    squash_file = paths.get(key) or f"{key[0]}.{key[1]}"
    steps: list[str] = []
    if present:
        steps.append("Delete the migration files it replaces: " + ", ".join(present))
    for edit in edits:
        steps.append(
            f"In {edit.file or '.'.join(edit.migration)}, change {edit.attribute} {edit.old!r} to {edit.new!r}"
        )
    steps.append(
        f"Remove the `replaces` attribute from the Migration class in {squash_file} "
        "(that is how Django tells a squashed migration)"
    )
    steps.append(
        f"Optional: if a deleted migration's name may be reused, run `manage.py migrate {key[0]} --prune` "
        "on every database to drop its django_migrations rows"
    )
    total = len(replaces)
    if applied is None:
        count = None
        status = "unverified"
        message = (
            f"{key[1]} replaces {total} migration(s): its old files may go once every database has "
            "applied all of them, or none; check each with --database ALIAS"
        )
    else:
        count = sum(1 for r in replaces if r in applied)
        where = f"database {database!r}"
        if count in (0, total):
            status = "due"
            which = "all" if count == total else "none"
            message = f"{key[1]}: {which} of its {total} replaced migration(s) applied on {where}: the old files can go"
        else:
            status = "partly-applied"
            message = (
                f"keep the old files of {key[1]}: only {count} of its {total} replaced migration(s) are "
                f"applied on {where}, which still needs them (run migrate there first)"
            )
    return Cleanup(
        name=key[1],
        file=paths.get(key),
        replaces=replaces,
        present=present,
        status=status,
        applied=count,
        edits=tuple(edits),
        steps=tuple(steps),
        message=message,
    )
