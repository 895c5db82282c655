"""Table sizes on the target (catalogue estimates, never a COUNT) and the severities they drive."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.db import DatabaseError

from ..conf import SizeThresholds
from ..findings import Finding, Severity, TableSize

# One query per table, each in its own read-only transaction (the guard): a table locked
# by someone else costs that table's size (lock_timeout), not the whole run.
# reltuples is PostgreSQL's row estimate, kept by VACUUM, ANALYZE and CREATE INDEX; -1
# (PostgreSQL 14+) means never vacuumed nor analysed. Partitioned tables hold no rows
# themselves: their leaves are summed (pg_partition_tree, PostgreSQL 12+).
# pg_total_relation_size opens the table with ACCESS SHARE for the length of the call.
_SIZE_SQL = """
WITH target AS (
    SELECT c.oid
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm')
      AND (n.nspname || '.' || c.relname = %s OR (c.relname = %s AND pg_table_is_visible(c.oid)))
    ORDER BY n.nspname || '.' || c.relname = %s DESC
    LIMIT 1
)
SELECT c.reltuples::float8, c.relpages, pg_relation_size(c.oid), pg_total_relation_size(c.oid),
       current_setting('block_size')::int,
       (SELECT coalesce(sum(CASE WHEN a.attlen > 0 THEN a.attlen ELSE 32 END), 0)
          FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
FROM target t
LEFT JOIN LATERAL (SELECT relid FROM pg_partition_tree(t.oid::regclass) WHERE isleaf) p ON true
JOIN pg_class c ON c.oid = coalesce(p.relid, t.oid)
"""

# Per-tuple overhead for the count-free estimate: 24-byte heap tuple header and a 4-byte
# line pointer; a page keeps a 24-byte header (storage/bufpage.h, access/htup_details.h).
# Variable-length columns count 32 bytes, as the planner assumes without statistics.
_TUPLE_OVERHEAD = 28
_PAGE_HEADER = 24


def _leaf_estimate(
    reltuples: float, relpages: int, main_bytes: int, block: int, width: int
) -> tuple[int | None, int]:
    """(rows from the catalogue or None when unknown, count-free estimate)."""
    pages = main_bytes // block if block else 0
    if main_bytes == 0:
        return 0, 0  # an empty heap file holds no row, analysed or not
    density = max(1, (block - _PAGE_HEADER) // (int(width) + _TUPLE_OVERHEAD))
    estimate = pages * density
    # -1: never vacuumed nor analysed (PostgreSQL 14+). Before 14 that state reads 0 rows in
    # 0 pages, which a table with data on disk cannot honestly claim.
    if reltuples < 0 or (relpages == 0 and reltuples == 0 and pages > 0):
        return None, estimate
    return round(reltuples), estimate


def table_size(connection: Any, table: str) -> TableSize | None:
    """The table's size, or None when it does not exist on the target (a new table)."""
    bare = table.rsplit(".", 1)[-1] if "." in table else table
    with connection.cursor() as cursor:
        cursor.execute(_SIZE_SQL, [table, bare, table])
        rows = cursor.fetchall()
    if not rows:
        return None
    known: int | None = 0
    estimated = 0
    total_bytes = 0
    for reltuples, relpages, main_bytes, all_bytes, block, width in rows:
        leaf_rows, leaf_estimate = _leaf_estimate(
            float(reltuples), int(relpages), int(main_bytes), int(block), int(width)
        )
        total_bytes += int(all_bytes)
        if leaf_rows is None:
            known = None
            estimated += leaf_estimate
        else:
            estimated += leaf_rows
            if known is not None:
                known += leaf_rows
    return TableSize(rows=known, bytes=total_bytes, estimated_rows=None if known is not None else estimated)


def table_sizes(connection: Any, tables: Iterable[str]) -> tuple[dict[str, TableSize], dict[str, str]]:
    """Sizes of the tables that exist on the target, and why some could not be read."""
    sizes: dict[str, TableSize] = {}
    failures: dict[str, str] = {}
    for table in sorted(set(tables)):
        try:
            size = table_size(connection, table)
        except DatabaseError as exc:
            # A lock or statement timeout: someone holds the table. The gate goes on without it.
            failures[table] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            continue
        if size is not None:
            sizes[table] = size
    return sizes, failures


def rescale(
    finding: Finding, size: TableSize, thresholds: SizeThresholds, *, pinned: Iterable[str] = ()
) -> Finding:
    """The finding with its table's size, and the severity the size calls for.

    Only size-scaled rules move, and only between warning and error: an info finding
    (for example a type change on the safe list) stays info, and a rule whose severity
    the settings pin (SEVERITIES) keeps it.
    """
    finding = replace(finding, table_size=size)
    rows = size.best_rows
    if rows is None or finding.rule not in thresholds.rules or finding.rule in set(pinned):
        return finding
    about = "" if size.rows is not None else "~"
    if finding.severity == Severity.ERROR and rows < thresholds.small_rows:
        note = (
            f"warning, not error: {finding.table} holds {about}{rows:,} rows, under "
            f"SIZE_THRESHOLDS small_rows ({thresholds.small_rows:,})"
        )
        return replace(finding, severity=Severity.WARNING, severity_note=note)
    if finding.severity == Severity.WARNING and rows > thresholds.large_rows:
        note = (
            f"error, not warning: {finding.table} holds {about}{rows:,} rows, over "
            f"SIZE_THRESHOLDS large_rows ({thresholds.large_rows:,})"
        )
        return replace(finding, severity=Severity.ERROR, severity_note=note)
    return finding


def human_bytes(value: int | None) -> str:
    if value is None:
        return "? bytes"
    size = float(value)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} bytes"  # pragma: no cover


def describe(size: TableSize) -> str:
    """ "1,234 rows, 96.0 kB" or "rows unknown (never analysed; ~1,200 by size), 96.0 kB"."""
    if size.rows is not None:
        rows = f"{size.rows:,} rows"
    else:
        rows = f"rows unknown (never analysed; ~{size.estimated_rows or 0:,} by size)"
    return f"{rows}, {human_bytes(size.bytes)}"
