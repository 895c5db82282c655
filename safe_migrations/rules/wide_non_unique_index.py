"""SM409 wide-non-unique-index."""

from __future__ import annotations

from collections.abc import Iterable

from pglast import ast

from ..context import MigrationContext
from ..findings import Fix, Severity
from ..fixes import hygiene
from ..fixes.recipes import py, q, rebuild_index
from ..parsing.postgres import relname
from ..parsing.statement import Statement
from ._hygiene import columns
from .base import Hit, Rule

MAX_COLUMNS = 3
# Unbounded types: a B-tree entry holds at most about 2,700 bytes (a third of a page).
WIDE_TYPES = frozenset({"text", "bytea", "jsonb", "varchar", "citext"})


class WideNonUniqueIndex(Rule):
    """A non-unique index on more than three columns, or a B-tree on an unbounded text column.

    ## What it does
    Flags non-unique indexes (`AddIndex`, `Meta.indexes`, `db_index=True`,
    hand-written `CREATE INDEX`) with more than three key columns, and
    non-unique B-tree indexes on a column whose type has no length limit
    (`text`, unbounded `varchar`, `bytea`, `jsonb`) when the migration shows
    the column's type, or the model state does (`AddIndex`,
    `AddIndexConcurrently`, and hand-written SQL on a model's table):
    `TextField(db_index=True)` and
    `models.Index(fields=[...])` on a `TextField` are the usual cases. Unique
    indexes and primary keys are not flagged: they enforce a rule.

    ## Why is this bad?
    Every INSERT, and every UPDATE of an indexed column, maintains the index;
    a wide key makes the index big and slow to maintain while queries seldom
    use more than its leading columns. A B-tree entry cannot hold more than
    about 2,700 bytes (after compression): as soon as a user stores a long
    enough text, the INSERT fails with "index row size exceeds btree maximum".

    ## Example
    ```python
    migrations.AddField("order", "comment", models.TextField(null=True, db_index=True))
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.indexes import HashIndex

    migrations.AddField("order", "comment", models.TextField(null=True)),
    AddIndexConcurrently("order", HashIndex(fields=["comment"], name="order_comment_hash"))
    ```
    A hash index serves equality lookups on values of any length; for prefix
    searches index an expression such as `Left("comment", 100)`. Keep
    multi-column indexes to the columns queries filter on, and move columns
    that are only read into `include=[...]` (PostgreSQL 11+).
    """

    code = "SM409"
    name = "wide-non-unique-index"
    severity = Severity.INFO

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if not isinstance(node, ast.IndexStmt) or node.unique or node.primary:
            return
        table = relname(node.relation)
        keys = [p.name or "(expression)" for p in node.indexParams or ()]
        name = node.idxname or "(unnamed)"
        if len(keys) > MAX_COLUMNS:
            yield Hit(
                f"Index {name} on {table} has {len(keys)} key columns ({', '.join(keys)}): queries "
                "seldom use more than the leading ones, yet every INSERT and every UPDATE of these "
                "columns must maintain the whole key.",
                statement=stmt,
                table=table,
                fix=hygiene.narrower_index(stmt.operation, keys[:2], keys[2:], ctx.target.server_version),
            )
            return
        if (node.accessMethod or "btree") != "btree":
            return
        types = self._known_types(stmt, ctx, table)
        for key in keys:
            base = types.get(key)
            if base is None or self._reported_before(stmt, ctx, table, key):
                continue
            yield Hit(
                f"Index {name} is a B-tree on {table}.{key} ({base}, no length limit): a value "
                "longer than about 2,700 bytes after compression does not fit in an index entry, "
                "so INSERTs and UPDATEs with long values fail with 'index row size exceeds btree "
                "maximum'.",
                statement=stmt,
                table=table,
                fix=_hash_index(stmt, table, key),
            )
            return

    @staticmethod
    def _reported_before(stmt: Statement, ctx: MigrationContext, table: str, key: str) -> bool:
        """Django's `_like` twin of an index already reported for the same operation."""
        for other in ctx.statements_of(stmt.operation):
            node = other.node
            if other.index >= stmt.index or not isinstance(node, ast.IndexStmt) or node.unique:
                continue
            if relname(node.relation) == table and (node.accessMethod or "btree") == "btree":
                params = node.indexParams or ()
                if len(params) == 1 and params[0].name == key:
                    return True
        return False

    @staticmethod
    def _known_types(stmt: Statement, ctx: MigrationContext, table: str) -> dict[str, str]:
        """Unbounded columns of ``table`` whose type this migration or, for an index
        operation, the model state shows."""
        out: dict[str, str] = {}
        for column, _, db_type in stmt.operation.index_fields:
            base = _unbounded(db_type)
            if base is not None:
                out[column] = base
        for qualified, db_type in stmt.operation.state_column_types:  # hand-written SQL
            owner, _, column = qualified.rpartition(".")
            base = _unbounded(db_type)
            if owner == table and base is not None:
                out[column] = base
        for other in ctx.statements[: stmt.index]:
            for col in columns(other):
                if col.table == table:
                    if col.type in WIDE_TYPES and not (col.type == "varchar" and col.mods):
                        out[col.name] = col.type
                    else:
                        out.pop(col.name, None)
        field = stmt.operation.new_field
        if field is not None and field.column:
            base = _unbounded(field.db_type)
            if base is not None:
                out[field.column] = base
        return out


def _hash_index_sql(table: str, column: str) -> Fix:
    """For hand-written SQL: the hash index in SQL too, built concurrently."""
    name = f"{table.split('.')[-1]}_{column}"[:25] + "_hash"
    create = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {q(table)} USING hash ({q(column)})"
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    code = "# atomic = False migration: CONCURRENTLY cannot run in a transaction\n" + rebuild_index(
        create, drop
    )
    steps = (
        f"For equality lookups on {column}, create a hash index instead of the B-tree: it stores a "
        "hash of the value, so any length fits.",
        "For prefix or range searches, index an expression on a bounded part of the value "
        f"(e.g. left({column}, 100)) and filter on the same expression.",
        "Build it with CONCURRENTLY in a migration with atomic = False, so writes go on meanwhile; "
        "the name is dropped first, so a retry after a failed build rebuilds it.",
    )
    return Fix("Index a bounded form of the value", steps, code)


def _unbounded(db_type: str | None) -> str | None:
    """The base type of a Django db_type without a length limit (text, varchar, ...)."""
    if not db_type or "(" in db_type:
        return None
    base = db_type.strip().lower()
    base = {"character varying": "varchar"}.get(base, base)
    return base if base in WIDE_TYPES else None


def _hash_index(stmt: Statement, table: str, column: str) -> Fix:
    op = stmt.operation
    if op.kind == "RunSQL":
        return _hash_index_sql(table, column)
    model = op.model_name or table
    field = (op.field_name if op.new_field is not None and op.new_field.column == column else None) or column
    field = next((name for col, name, _ in op.index_fields if col == column), field)
    index_name = f"{table.split('.')[-1]}_{column}"[:25] + "_hash"
    code = "\n".join(
        [
            "from django.contrib.postgres.indexes import HashIndex",
            "from django.contrib.postgres.operations import AddIndexConcurrently",
            "",
            "# atomic = False migration; the field itself with db_index=False",
            f"AddIndexConcurrently({py(model)}, HashIndex(fields=[{py(field)}], name={py(index_name)})),",
        ]
    )
    steps = (
        f"For equality lookups on {column}, use a hash index: it stores a hash of the value, so any "
        "length fits.",
        "For prefix or range searches, index an expression on a bounded part of the value "
        f"(e.g. models.Index(Left({py(field)}, 100), name=...)) and filter on the same expression.",
        (
            f"Replace {op.kwarg('index') or 'the index'} in Meta.indexes with the hash index."
            if op.index_fields
            else "Drop db_index=True from the field so that Django does not create the B-tree (and its "
            "_like pattern index) as well."
        ),
    )
    return Fix("Index a bounded form of the value", steps, code)
