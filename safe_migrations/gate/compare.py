"""Put a traced migration next to its static analysis: which statement is which, and where
the locks and rewrites PostgreSQL reported differ from what the parsed SQL predicted."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import MigrationContext, Target
from ..facts import CollectedMigration
from ..findings import MigrationTrace, ObservedLock, StatementTrace
from ..parsing.statement import Lock, Statement, parse_migration
from .trace import _TABLE_KINDS, UNOBSERVED, Applied, Executed, Relation

_LOOKAHEAD = 8


def _normal(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").strip()


@dataclass(frozen=True)
class Prediction:
    locks: dict[int, Lock]  # oid of a pre-existing relation -> strongest lock the SQL implies
    rewrites: set[int]  # tables the static analysis expects to be rewritten
    index_rebuilds: bool  # REINDEX
    labels: tuple[str, ...]


def _groups(migration: CollectedMigration, statements: list[Statement]) -> list[list[Statement]]:
    """The parsed statements of each item the schema editor executes (an item of RunSQL
    may hold several statements; Django sends it in one call)."""
    from ..parsing.generic import parse_items as generic_items
    from ..parsing.postgres import parse_items

    items = parse_items if migration.vendor == "postgresql" else generic_items
    groups: list[list[Statement]] = []
    start = 0
    for item in migration.statements:
        count = sum(1 for _ in items(item.sql))
        groups.append(statements[start : start + count])
        start += count
    return groups


def _names(objects: dict[int, Relation]) -> dict[str, int]:
    """Relation name (as the SQL may spell it) -> oid, for objects that existed before."""
    names: dict[str, int] = {}
    for rel in objects.values():
        names.setdefault(rel.name, rel.oid)
        names.setdefault(rel.name.rsplit(".", 1)[-1], rel.oid)
    return names


def _predict(group: list[Statement], ctx: MigrationContext, objects: dict[int, Relation]) -> Prediction:
    from pglast import ast

    from ..parsing.postgres import relname
    from ..rules._tables import is_new, long_work

    names = _names(objects)
    locks: dict[int, Lock] = {}
    rewrites: set[int] = set()
    index_rebuilds = False
    labels: list[str] = []
    for stmt in group:
        for lock in stmt.locks:
            oid = names.get(lock.table)
            if oid is None or is_new(ctx, lock.table, stmt):
                continue
            if oid not in locks or lock.lock > locks[oid]:
                locks[oid] = lock.lock
        work = long_work(stmt, ctx) if stmt.node is not None else None
        if work and work.startswith("rewrites"):
            node = stmt.node
            if isinstance(node, (ast.AlterTableStmt, ast.ClusterStmt)) and node.relation is not None:
                oid = names.get(relname(node.relation))
                if oid is not None and not is_new(ctx, relname(node.relation), stmt):
                    rewrites.add(oid)
        elif work == "rebuilds indexes":
            index_rebuilds = True
    for oid, mode in sorted(locks.items(), key=lambda pair: -pair[1]):
        labels.append(f"{mode.label} on {objects[oid].name}")
    labels.extend(f"rewrite of {objects[oid].name}" for oid in sorted(rewrites))
    if index_rebuilds:
        labels.append("index rebuild")
    return Prediction(locks, rewrites, index_rebuilds, tuple(labels))


def _differences(done: Executed, prediction: Prediction, objects: dict[int, Relation]) -> list[str]:
    if done.error is not None:
        return []
    out: list[str] = []
    if done.mode != UNOBSERVED:
        taken: dict[int, Lock] = {}
        for oid, lock in done.new_locks:
            taken[oid] = max(taken.get(oid, lock), lock)
        for oid, lock in prediction.locks.items():
            name = objects[oid].name
            strongest = taken.get(oid)
            if strongest is not None and strongest > lock:
                out.append(f"predicted {lock.label} on {name}, observed {strongest.label}")
            elif lock not in done.held_after.get(oid, set()) and (strongest is None or strongest < lock):
                seen = f"only {strongest.label}" if strongest is not None else "no such lock"
                out.append(f"predicted {lock.label} on {name}, observed {seen}")
        for oid, lock in taken.items():
            rel = objects[oid]
            if (
                oid not in prediction.locks
                and rel.relkind in _TABLE_KINDS
                and lock >= Lock.SHARE_UPDATE_EXCLUSIVE
            ):
                out.append(f"{lock.label} on {rel.name} was not predicted")
    rewritten = set(done.rewritten)
    tables = {oid for oid in rewritten if objects[oid].relkind in _TABLE_KINDS}
    for oid in sorted(tables - prediction.rewrites):
        out.append(f"rewrote {objects[oid].name}, which was not predicted")
    for oid in sorted(prediction.rewrites - tables):
        out.append(f"predicted a rewrite of {objects[oid].name}, none observed")
    if not prediction.index_rebuilds:
        for oid in sorted(rewritten - tables):
            rel = objects[oid]
            if rel.relkind in ("i", "I") and rel.table_oid not in tables:
                out.append(f"rebuilt index {rel.name}, which was not predicted")
    return out


def _statement_trace(
    index: int,
    done: Executed,
    group: list[Statement] | None,
    prediction: Prediction,
    objects: dict[int, Relation],
) -> StatementTrace:
    locks = tuple(
        ObservedLock(objects[oid].name, objects[oid].kind, lock.label)
        for oid, lock in sorted(
            done.new_locks,
            key=lambda pair: (objects[pair[0]].relkind not in _TABLE_KINDS, -pair[1], objects[pair[0]].name),
        )
    )
    op_index = group[0].operation.index if group else None
    sql = "\n".join(s.sql for s in group) if group else done.text
    return StatementTrace(
        index=index,
        sql=sql,
        mode=done.mode,
        elapsed_ms=round(done.elapsed_ms, 3),
        operation_index=op_index,
        locks=locks,
        rewritten=tuple(objects[oid].name for oid in done.rewritten if oid in objects),
        scanned=tuple(objects[oid].name for oid in done.scanned if oid in objects),
        predicted=prediction.labels,
        differences=tuple(_differences(done, prediction, objects)),
        error=done.error,
    )


def migration_trace(
    applied: Applied, migration: CollectedMigration, target: Target
) -> tuple[MigrationTrace, dict[str, StatementTrace]]:
    """The trace of one migration, and each parsed statement's trace keyed by its SQL."""
    statements = parse_migration(migration)
    ctx = MigrationContext.build(migration, statements, target)
    groups = _groups(migration, statements)
    texts = [_normal(item.sql) for item in migration.statements]
    by_sql: dict[str, StatementTrace] = {}
    traces: list[StatementTrace] = []
    pointer = 0
    empty = Prediction({}, set(), False, ())
    for index, done in enumerate(applied.executed):
        wanted = _normal(done.text)
        match = next(
            (k for k in range(pointer, min(pointer + _LOOKAHEAD, len(texts))) if texts[k] == wanted), None
        )
        group = groups[match] if match is not None else None
        if match is not None:
            pointer = match + 1
        prediction = _predict(group, ctx, applied.objects) if group else empty
        trace = _statement_trace(index, done, group, prediction, applied.objects)
        traces.append(trace)
        for stmt in group or ():
            by_sql.setdefault(stmt.sql, trace)
    return (
        MigrationTrace(
            app_label=applied.key[0],
            name=applied.key[1],
            atomic=applied.atomic,
            status=applied.status,
            statements=tuple(traces),
            elapsed_ms=round(applied.elapsed_ms, 3),
            error=applied.error,
        ),
        by_sql,
    )
