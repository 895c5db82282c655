"""A PostgreSQL schema read from pg_catalog, and the differences between two of them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_OWN_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
)
_NOT_FROM_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass "
    "AND e.objid = {oid} AND e.deptype = 'e')"
)

RELATIONS = f"""
SELECT n.nspname, c.relname, c.relkind, c.relpersistence, obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_OWN_SCHEMAS}
"""

COLUMNS = f"""
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       col_description(c.oid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_OWN_SCHEMAS}
"""

# The definition without the index's own name: a RenameModel/RenameField in the original
# history keeps names the squashed CreateModel derives afresh (compared separately).
INDEXES = f"""
SELECT n.nspname, t.relname, i.relname,
       replace(pg_get_indexdef(i.oid), ' INDEX ' || quote_ident(i.relname) || ' ON ', ' INDEX ON ')
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE {_OWN_SCHEMAS}
"""

CONSTRAINTS = f"""
SELECT n.nspname, t.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE {_OWN_SCHEMAS}
"""

# Sequences of identity and serial columns follow their column (compared there).
SEQUENCES = f"""
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND {_OWN_SCHEMAS}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype IN ('i', 'a'))
"""

TRIGGERS = f"""
SELECT n.nspname, c.relname, tg.tgname, pg_get_triggerdef(tg.oid)
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND {_OWN_SCHEMAS}
"""

FUNCTIONS = f"""
SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind, md5(p.prosrc)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE {_OWN_SCHEMAS} AND {_NOT_FROM_EXTENSION.format(catalog="pg_proc", oid="p.oid")}
"""

TYPES = f"""
SELECT n.nspname, t.typname, t.typtype,
       CASE t.typtype
         WHEN 'e' THEN array_to_string(ARRAY(SELECT enumlabel FROM pg_enum
                                             WHERE enumtypid = t.oid ORDER BY enumsortorder), ',')
         WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
       END
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd') AND {_OWN_SCHEMAS}
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_type", oid="t.oid")}
"""

EXTENSIONS = "SELECT extname, extversion FROM pg_extension"

_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}
_CONSTRAINTS = {
    "p": "primary key",
    "u": "unique",
    "f": "foreign key",
    "c": "check",
    "x": "exclusion",
    "n": "not null",
}


@dataclass(frozen=True)
class Catalog:
    relations: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    columns: dict[tuple[str, str, str], tuple[Any, ...]] = field(default_factory=dict)
    indexes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    constraints: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    index_names: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    constraint_names: dict[tuple[str, str, str, str], tuple[str, ...]] = field(default_factory=dict)
    others: frozenset[tuple[str, tuple[Any, ...]]] = frozenset()  # sequences, triggers, functions...

    def summary(self) -> str:
        tables = sum(1 for v in self.relations.values() if v[0] in ("r", "p"))
        return (
            f"{tables} tables, {len(self.columns)} columns, {sum(self.indexes.values())} indexes, "
            f"{sum(self.constraints.values())} constraints"
        )


def _rows(cursor: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor.execute(sql)
    return [tuple(row) for row in cursor.fetchall()]


def snapshot(connection: Any) -> Catalog:
    """Everything a migration can create, read from pg_catalog on ``connection``."""
    with connection.cursor() as cursor:
        relations = {(r[0], r[1]): tuple(r[2:]) for r in _rows(cursor, RELATIONS)}
        columns = {(r[0], r[1], r[2]): tuple(r[3:]) for r in _rows(cursor, COLUMNS)}
        indexes: Counter[tuple[str, str, str]] = Counter()
        index_names: dict[tuple[str, str, str], list[str]] = {}
        for schema, table, name, definition in _rows(cursor, INDEXES):
            key = (schema, table, definition)
            indexes[key] += 1
            index_names.setdefault(key, []).append(name)
        constraints: Counter[tuple[str, str, str, str]] = Counter()
        constraint_names: dict[tuple[str, str, str, str], list[str]] = {}
        for schema, table, name, kind, definition in _rows(cursor, CONSTRAINTS):
            ckey = (schema, table, kind, definition)
            constraints[ckey] += 1
            constraint_names.setdefault(ckey, []).append(name)
        others = {("sequence", r) for r in _rows(cursor, SEQUENCES)}
        others |= {("trigger", r) for r in _rows(cursor, TRIGGERS)}
        others |= {("function", r) for r in _rows(cursor, FUNCTIONS)}
        others |= {("type", r) for r in _rows(cursor, TYPES)}
        others |= {("extension", r) for r in _rows(cursor, EXTENSIONS)}
    return Catalog(
        relations=relations,
        columns=columns,
        indexes=indexes,
        constraints=constraints,
        index_names={k: tuple(sorted(v)) for k, v in index_names.items()},
        constraint_names={k: tuple(sorted(v)) for k, v in constraint_names.items()},
        others=frozenset(others),
    )


def _column(values: tuple[Any, ...]) -> str:
    type_, not_null, default, identity, generated, collation, comment = values
    parts = [str(type_), "NOT NULL" if not_null else "NULL"]
    if default is not None:
        parts.append(f"{'GENERATED ' if generated else 'DEFAULT '}{default}")
    if identity:
        parts.append("IDENTITY " + {"a": "ALWAYS", "d": "BY DEFAULT"}.get(identity, identity))
    if collation:
        parts.append(f"COLLATE {collation}")
    if comment:
        parts.append(f"COMMENT {comment!r}")
    return " ".join(parts)


def _only(what: str, original: bool) -> str:
    return f"{what}: only in the {'original' if original else 'squashed'} chain"


def compare(original: Catalog, squashed: Catalog) -> tuple[list[str], list[str]]:
    """(differences, notes): differences fail a verification; notes (names that differ for the
    same definition, left by renames in the original history) do not."""
    out: list[str] = []
    for key in sorted(set(original.relations) | set(squashed.relations)):
        a, b = original.relations.get(key), squashed.relations.get(key)
        name = ".".join(key)
        if a is None or b is None:
            kind = _KINDS.get((a or b)[0], "relation")  # type: ignore[index]
            out.append(_only(f"{kind} {name}", b is None))
        elif a != b:
            out.append(f"{_KINDS.get(a[0], 'relation')} {name}: original {a!r}, squashed {b!r}")
    for ckey in sorted(set(original.columns) | set(squashed.columns)):
        ca, cb = original.columns.get(ckey), squashed.columns.get(ckey)
        name = ".".join(ckey)
        if ca is None or cb is None:
            out.append(_only(f"column {name} {_column(ca or cb)}", cb is None))  # type: ignore[arg-type]
        elif ca != cb:
            out.append(f"column {name}: original {_column(ca)}; squashed {_column(cb)}")
    for ikey in sorted(set(original.indexes) | set(squashed.indexes)):
        missing = original.indexes[ikey] - squashed.indexes[ikey]
        if missing:
            out.append(_only(f"index on {ikey[0]}.{ikey[1]}: {ikey[2]}", missing > 0))
    for kkey in sorted(set(original.constraints) | set(squashed.constraints)):
        missing = original.constraints[kkey] - squashed.constraints[kkey]
        what = f"{_CONSTRAINTS.get(kkey[2], kkey[2])} constraint on {kkey[0]}.{kkey[1]}: {kkey[3]}"
        if missing:
            out.append(_only(what, missing > 0))
    for kind, row in sorted(original.others ^ squashed.others, key=repr):
        out.append(
            _only(
                f"{kind} {'.'.join(str(v) for v in row[:3] if v is not None)}", (kind, row) in original.others
            )
        )
    notes: list[str] = []
    for nkey, names in sorted(original.index_names.items()):
        other = squashed.index_names.get(nkey)
        if other is not None and other != names:
            notes.append(
                f"index on {nkey[0]}.{nkey[1]} named {', '.join(names)} originally, {', '.join(other)} squashed"
            )
    for mkey, cnames in sorted(original.constraint_names.items()):
        cother = squashed.constraint_names.get(mkey)
        if cother is not None and cother != cnames:
            notes.append(
                f"{_CONSTRAINTS.get(mkey[2], mkey[2])} constraint on {mkey[0]}.{mkey[1]} named "
                f"{', '.join(cnames)} originally, {', '.join(cother)} squashed"
            )
    return out, notes
