"""Does ALTER COLUMN ... TYPE rewrite the table? PostgreSQL's binary-coercible cases."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TYPE = re.compile(r"^\s*(?P<base>[a-z0-9_ ]+)(?:\((?P<mods>[^)]*)\))?(?P<rest>.*)$")

# Spellings Django uses for the same PostgreSQL type.
_ALIASES = {
    "character varying": "varchar",
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "decimal": "numeric",
    "timestamptz": "timestamp with time zone",
    "timestamp without time zone": "timestamp",
}


@dataclass(frozen=True)
class ColumnType:
    base: str
    mods: tuple[int, ...] = ()
    rest: str = ""  # e.g. "[]" for arrays, or a trailing clause

    @classmethod
    def parse(cls, text: str | None) -> ColumnType | None:
        if not text:
            return None
        match = _TYPE.match(text.lower())
        if not match:
            return None
        base = _ALIASES.get(match["base"].strip(), match["base"].strip())
        mods: tuple[int, ...] = ()
        if match["mods"]:
            try:
                mods = tuple(int(m) for m in match["mods"].split(","))
            except ValueError:
                return None
        return cls(base, mods, match["rest"].strip())


def rewrites(old: str | None, new: str | None, *, server_version: int, session_utc: bool) -> bool | None:
    """True: the change rewrites the table and its indexes; False: catalogue only; None: unknown.

    PostgreSQL docs, ALTER TABLE notes: a rewrite is skipped when the old type is
    binary coercible to the new one or an unconstrained domain over it
    (RULES.md section 4.5, measured on PostgreSQL 15).
    """
    a, b = ColumnType.parse(old), ColumnType.parse(new)
    if a is None or b is None:
        return None
    if a == b:
        return False
    if a.rest or b.rest:
        # Arrays and other decorated types: only an identical change is known to be free.
        return None if a.rest == b.rest else True
    if a.base == "varchar" and b.base == "varchar":
        # Growing or removing the limit: no rewrite (9.2+); shrinking rewrites.
        return bool(b.mods) and (not a.mods or b.mods[0] < a.mods[0])
    if a.base == "varchar" and b.base == "text":
        return False
    if a.base == "text" and b.base == "varchar":
        return bool(b.mods)
    if a.base == "numeric" and b.base == "numeric":
        if not b.mods:
            return False  # to unconstrained numeric
        if not a.mods:
            return True
        same_scale = (a.mods[1:] or (0,)) == (b.mods[1:] or (0,))
        return not (same_scale and b.mods[0] >= a.mods[0])
    if {a.base, b.base} == {"timestamp", "timestamp with time zone"}:
        # PG 12+: no rewrite when the session TimeZone is UTC.
        return not (server_version >= 12 and session_utc)
    if a.base in ("varbit", "bit varying") and b.base == a.base:
        return bool(b.mods) and (not a.mods or b.mods[0] < a.mods[0])
    return True


# Built-in types no *other* type is binary coercible to: changing any column to one of
# them rewrites the table (an identical type is a no-op nobody writes).
_ALWAYS_REWRITTEN_INTO = frozenset(
    {
        "smallint", "integer", "bigint", "real", "double precision", "boolean", "date", "time",
        "time with time zone", "interval", "uuid", "json", "jsonb", "inet", "cidr", "macaddr",
        "bytea", "money", "char", "character", "bpchar",
    }
)  # fmt: skip


def rewrites_from_unknown(new: str | None, *, server_version: int, session_utc: bool) -> bool | None:
    """``rewrites`` when the old type is unknown (hand-written SQL): True when no change
    into ``new`` can skip the rewrite on this server, None when one might."""
    b = ColumnType.parse(new)
    if b is None or b.rest:
        return None
    if b.base in ("timestamp", "timestamp with time zone"):
        return None if server_version >= 12 and session_utc else True
    return True if b.base in _ALWAYS_REWRITTEN_INTO else None
