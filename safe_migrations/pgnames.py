"""PostgreSQL's own naming of implicit constraints (makeObjectName, NAMEDATALEN 64)."""

from __future__ import annotations

MAX_IDENTIFIER = 63  # NAMEDATALEN - 1


def implicit_constraint_name(table: str, columns: list[str], label: str) -> str:
    """Name PostgreSQL gives an unnamed constraint, e.g. ``shop_item_sku_key``.

    Mirrors ``makeObjectName`` in src/backend/commands/indexcmds.c: the longer of
    the table and column parts is clipped, one byte at a time, until the whole
    name fits 63 bytes. (The numeric suffix PostgreSQL adds on a name clash is
    not emulated: Django never creates two such constraints on one column.)
    """
    name1 = table.encode()
    name2 = "_".join(columns).encode()
    overhead = len(label) + 1 + (1 if name2 else 0)
    avail = MAX_IDENTIFIER - overhead
    n1, n2 = len(name1), len(name2)
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    parts = [name1[:n1].decode(errors="ignore")]
    if name2:
        parts.append(name2[:n2].decode(errors="ignore"))
    parts.append(label)
    return "_".join(parts)
