"""SM210 drop-database-object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast, enums

from ..context import MigrationContext
from ..findings import Severity
from ..fixes import compat
from ..parsing.postgres import relname
from ..parsing.statement import Lock, Statement
from ._ast import clone as _clone
from ._ast import deparse
from ._compat import (
    OBJ,
    bare,
    column_reappears,
    column_renames,
    column_vacated_before,
    names,
    post_deploy,
    same_transaction_before,
)
from .base import Hit, Rule

# Drops other rules own: tables (drop-table), indexes (drop-index-non-concurrently).
_OWNED_ELSEWHERE = {OBJ.OBJECT_TABLE, OBJ.OBJECT_INDEX}
# Objects a column can be made of: CASCADE drops those columns (and their data).
_COLUMN_TYPES = {OBJ.OBJECT_TYPE, OBJ.OBJECT_DOMAIN, OBJ.OBJECT_EXTENSION}
# Relation-like objects: DROP takes ACCESS EXCLUSIVE on them (on the table for a trigger or rule).
_RELATION_LOCK = {
    OBJ.OBJECT_VIEW,
    OBJ.OBJECT_MATVIEW,
    OBJ.OBJECT_SEQUENCE,
    OBJ.OBJECT_FOREIGN_TABLE,
    OBJ.OBJECT_TRIGGER,
    OBJ.OBJECT_RULE,
}


def _kind(remove_type: Any) -> str:
    """'MATERIALIZED VIEW' for OBJECT_MATVIEW, and so on."""
    label = enums.ObjectType(remove_type).name.removeprefix("OBJECT_")
    return {"MATVIEW": "MATERIALIZED VIEW", "FOREIGN_TABLE": "FOREIGN TABLE"}.get(
        label, label.replace("_", " ")
    )


def _created_names(node: Any) -> list[str]:
    """Names of the non-table objects a statement creates."""
    if isinstance(node, ast.ViewStmt):
        return [relname(node.view)]
    if isinstance(node, ast.CreateTableAsStmt) and node.into is not None:
        return [relname(node.into.rel)]
    if isinstance(node, ast.CreateFunctionStmt):
        return [names(node.funcname)]
    if isinstance(node, ast.CreateSeqStmt):
        return [relname(node.sequence)]
    if isinstance(node, (ast.CreateEnumStmt, ast.CreateRangeStmt)):
        return [names(node.typeName)]
    if isinstance(node, ast.CompositeTypeStmt):
        return [relname(node.typevar)]
    if isinstance(node, ast.CreateDomainStmt):
        return [names(node.domainname)]
    if isinstance(node, ast.CreateTrigStmt):
        return [str(node.trigname)]
    if isinstance(node, ast.CreateExtensionStmt):
        return [str(node.extname)]
    if isinstance(node, ast.CreateSchemaStmt):
        return [str(node.schemaname)]
    if isinstance(node, ast.RuleStmt):
        return [str(node.rulename)]
    if isinstance(node, ast.CreatePolicyStmt):
        return [str(node.policy_name)]
    return []


def _restrict(node: Any) -> str:
    """The same DROP with IF EXISTS and without CASCADE."""
    clone = _clone(node)
    clone.behavior = enums.DropBehavior.DROP_RESTRICT
    clone.missing_ok = True
    return deparse(clone)


class DropDatabaseObject(Rule):
    """A database, schema or other object dropped while clients may still use it.

    ## What it does
    Flags `DROP DATABASE`, `DROP SCHEMA` and `DROP OWNED` (errors) and the drop
    of other objects: views, materialized views, functions and procedures,
    sequences, types, domains, extensions, triggers, rules, policies, foreign
    tables (warnings; an error with `CASCADE` on a type, domain or extension,
    which drops the columns made of it). Tables and indexes have rules of their
    own. Objects created earlier in the same migration pass, and so does a
    migration marked `safe_migrations_phase = "post-deploy"` (except DROP
    DATABASE and a cascading DROP SCHEMA), which declares that the release using
    the object is gone. The trigger cleanup of a column swap (change-column-type
    recipe) passes too.

    ## Why is this bad?
    Every client of the object breaks at once, old pods included: a dropped view
    or function fails their queries, a dropped sequence or trigger changes what
    their INSERTs do, a dropped type takes its columns with it under `CASCADE`.
    Nothing of it comes back on rollback. `DROP SCHEMA ... CASCADE` takes ACCESS
    EXCLUSIVE on every relation in the schema; `DROP DATABASE` cannot even run
    inside a transaction block.

    ## Example
    ```python
    migrations.RunSQL('DROP VIEW "shop_order_summary"'),
    ```

    ## Use instead
    Remove every use in release N, then drop in release N+1:
    ```python
    class Migration(migrations.Migration):
        safe_migrations_phase = "post-deploy"  # runs once no pod of release N-1 is left
        operations = [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.RunSQL('DROP VIEW IF EXISTS "shop_order_summary"', migrations.RunSQL.noop),
        ]
    ```
    Never drop a database from a migration.
    """

    code = "SM210"
    name = "drop-database-object"
    severity = Severity.WARNING

    def check_statement(self, stmt: Statement, ctx: MigrationContext) -> Iterable[Hit]:
        node = stmt.node
        if isinstance(node, ast.DropdbStmt):
            yield Hit(
                f"DROP DATABASE {node.dbname} removes every table and every client's data at once; it "
                "cannot run inside a transaction block and cannot be rolled back.",
                statement=stmt,
                fix=compat.drop_object("DATABASE", str(node.dbname), stmt.sql, database=True),
                severity=Severity.ERROR,
            )
            return
        if isinstance(node, ast.DropOwnedStmt):
            roles = ", ".join(str(r.rolename) for r in node.roles or ())
            yield Hit(
                f"DROP OWNED BY {roles} drops every object those roles own, whoever still uses them.",
                statement=stmt,
                fix=compat.drop_object("OWNED objects", roles, stmt.sql),
                severity=Severity.ERROR,
            )
            return
        if not isinstance(node, ast.DropStmt) or node.removeType in _OWNED_ELSEWHERE:
            return
        cascade = node.behavior == enums.DropBehavior.DROP_CASCADE
        kind = _kind(node.removeType)
        restrict_sql = _restrict(node)
        created = {bare(n) for s in ctx.statements[: stmt.index] for n in _created_names(s.node)}
        for obj in node.objects or ():
            name = names(obj)
            if bare(name) in created:
                continue  # made earlier in this migration: no client knows it yet
            if node.removeType == OBJ.OBJECT_SCHEMA:
                if post_deploy(ctx) and not cascade:
                    continue  # RESTRICT: fails rather than removing anything still in it
                message = f"DROP SCHEMA {name} breaks every client using its objects" + (
                    ", and CASCADE drops all of them, taking ACCESS EXCLUSIVE on every relation in it."
                    if cascade
                    else "."
                )
                yield Hit(
                    message,
                    statement=stmt,
                    lock=Lock.ACCESS_EXCLUSIVE.label if cascade else None,
                    fix=compat.drop_object("SCHEMA", name, restrict_sql),
                    severity=Severity.ERROR,
                )
                continue
            if post_deploy(ctx):
                continue  # the release that used it is gone
            if self._swap_cleanup(ctx, stmt, node.removeType, obj):
                continue
            table = None
            if node.removeType in (OBJ.OBJECT_TRIGGER, OBJ.OBJECT_RULE, OBJ.OBJECT_POLICY):
                *parts, object_name = [str(getattr(p, "sval", p)) for p in obj]
                table = ".".join(parts)
                name = f"{object_name} on {table}"
            message = f"Dropping {kind.lower()} {name} breaks the code still running if it uses it"
            severity = None
            if node.removeType == OBJ.OBJECT_TRIGGER:
                message = (
                    f"Dropping trigger {name} changes what every INSERT/UPDATE on {table} does while the "
                    "code that relies on it still runs"
                )
            elif cascade and node.removeType in _COLUMN_TYPES:
                message += ", and CASCADE also drops every column made of it, with its data"
                severity = Severity.ERROR
            elif cascade:
                message += ", and CASCADE silently drops the objects that depend on it"
            message += "; it cannot be rolled back."
            lock = Lock.ACCESS_EXCLUSIVE.label if node.removeType in _RELATION_LOCK else None
            if table is None and node.removeType in _RELATION_LOCK:
                table = name
            yield Hit(
                message,
                statement=stmt,
                lock=lock,
                table=table,
                fix=compat.drop_object(kind, name, restrict_sql),
                severity=severity,
            )

    @staticmethod
    def _swap_cleanup(ctx: MigrationContext, stmt: Statement, remove_type: Any, obj: Any) -> bool:
        """The sync trigger (and then its function) dropped in the transaction that swaps columns."""
        earlier = list(same_transaction_before(ctx, stmt))
        if remove_type == OBJ.OBJECT_FUNCTION:
            return any(
                isinstance(s.node, ast.DropStmt) and s.node.removeType == OBJ.OBJECT_TRIGGER for s in earlier
            )
        if remove_type != OBJ.OBJECT_TRIGGER:
            return False
        table = ".".join(str(getattr(p, "sval", p)) for p in list(obj)[:-1])
        for other in ctx.statements:
            if ctx.transaction_of(other) != ctx.transaction_of(stmt):
                continue
            renamed = column_renames(other.node)
            if renamed is None or bare(renamed[0]) != bare(table):
                continue
            _, old, new = renamed
            if column_reappears(ctx, other, table, old) or column_vacated_before(ctx, other, table, new):
                return True
        return False
