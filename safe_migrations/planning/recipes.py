"""The stages of each recipe (RULES.md R1-R10) as real Django operations.

A recipe turns one unsafe operation into ordered stages; each stage says when it may run
(pre-deploy: while the old code serves; post-deploy: once no pod of the old release
runs), whether it needs a migration of its own (a concurrent index build, a backfill, a
VALIDATE) and whether it must run outside a transaction. The state operations of the
original operation are always carried, so the model state at the end is the same.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import migrations, models
from django.db.models.fields import NOT_PROVIDED
from django.utils.module_loading import import_string
from pglast import ast, enums

from ..findings import Phase
from ..rules._ast import deparse
from .sql import SafeSql, operation_sql, q, rewrite, statements

LOCAL_MODULE = "safe_migrations_local"  # functions written into the migration file itself
BATCH = 5_000
PRE, POST = Phase.PRE_DEPLOY, Phase.POST_DEPLOY
OBJ = enums.ObjectType


@dataclass
class Stage:
    phase: Phase
    operations: list[Any]
    atomic: bool = True
    alone: bool = False  # needs a migration of its own
    title: str = ""
    slug: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """Why no automatic plan exists for an operation (reported, never faked)."""

    message: str


@dataclass
class OpContext:
    app_label: str
    operation: Any
    from_state: Any
    connection: Any
    server_version: int
    django_version: tuple[int, int]
    atomic: bool = True

    @property
    def model_name(self) -> str:
        return str(getattr(self.operation, "model_name", None) or getattr(self.operation, "name", ""))

    def model(self, state: Any = None) -> Any:
        return (state or self.from_state).apps.get_model(self.app_label, self.model_name)

    def to_state(self) -> Any:
        state = self.from_state.clone()
        self.operation.state_forwards(self.app_label, state)
        return state

    def sql(self, operation: Any | None = None) -> list[str]:
        return operation_sql(self.connection, self.app_label, operation or self.operation, self.from_state)


# --- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Helper:
    """A function the migration file defines itself (RunPython code)."""

    name: str
    source: str
    imports: tuple[str, ...]


def local_function(name: str, source: str, imports: tuple[str, ...]) -> Callable[..., Any]:
    """A real function (so the plan can run in memory) that the writer prints as source."""
    namespace: dict[str, Any] = {"BATCH": BATCH}
    exec("\n".join(imports), namespace)
    exec(source, namespace)
    func = namespace[name]
    func.__module__ = LOCAL_MODULE
    func.__qualname__ = name
    func.safe_migrations_helper = Helper(name, source, imports)
    return func


def clone_field(field_obj: Any, **changes: Any) -> Any:
    """A new field built from ``field_obj``'s deconstruction; a change to NOT_PROVIDED removes it."""
    _, path, args, kwargs = field_obj.deconstruct()
    for key, value in changes.items():
        if value is NOT_PROVIDED:
            kwargs.pop(key, None)
        else:
            kwargs[key] = value
    return import_string(path)(*args, **kwargs)


def runsql(sql: str | list[str], reverse: str | list[str] | None = None) -> Any:
    return migrations.RunSQL(sql, reverse_sql=reverse if reverse else migrations.RunSQL.noop)


def state_only(*operations: Any) -> Any:
    return migrations.SeparateDatabaseAndState(state_operations=list(operations), database_operations=[])


def separate(database: list[Any], state: list[Any]) -> Any:
    return migrations.SeparateDatabaseAndState(database_operations=database, state_operations=state)


def _name(*parts: str, suffix: str) -> str:
    """An identifier within PostgreSQL's 63 bytes, keeping the suffix."""
    base = "_".join(p for p in parts if p)
    return base[: 63 - len(suffix) - 1] + "_" + suffix


def check_constraint(field_name: str, name: str, django_version: tuple[int, int]) -> Any:
    condition = models.Q(**{f"{field_name}__isnull": False})
    if django_version >= (5, 1):  # "check" was renamed "condition" in Django 5.1
        return models.CheckConstraint(condition=condition, name=name)
    return models.CheckConstraint(check=condition, name=name)  # type: ignore[call-arg]


def touched(app_label: str, operation: Any) -> tuple[str, str] | None:
    """(model, field) an operation changes, to refuse plans where two ops race on one field."""
    model = getattr(operation, "model_name", None)
    name = getattr(operation, "name", None) or getattr(operation, "old_name", None)
    if model and isinstance(name, str):
        return (str(model).lower(), name.lower())
    return None


# --- dispatch -------------------------------------------------------------------------------


def stages_for(ctx: OpContext, rules: set[str]) -> list[Stage] | Problem:
    """The recipe for an operation with error findings ``rules``."""
    op = ctx.operation
    kind = type(op).__name__
    rule_list = ", ".join(sorted(rules))
    # Hazards with no online recipe (RULES.md R13): a maintenance window, not a split.
    maintenance = rules & {"SM110", "SM112", "SM113", "SM114"}
    if maintenance:
        return Problem(
            f"no online recipe for {', '.join(sorted(maintenance))} (a maintenance window or "
            "a manual procedure, see --explain)"
        )
    try:
        if kind == "RemoveField" and rules <= {"SM201", "SM120", "SM116"}:
            return drop_column(ctx)
        if kind == "DeleteModel" and rules <= {"SM202", "SM120", "SM116"}:
            return drop_table(ctx)
        if kind in ("RenameModel", "AlterModelTable") and rules <= {"SM204", "SM116"}:
            return rename_table(ctx)
        if kind == "RenameField" and rules <= {"SM203", "SM116"}:
            return rename_column(ctx)
        if kind == "AddIndex" and rules <= {"SM101", "SM116"}:
            return add_index(ctx)
        if kind == "AddConstraint" and isinstance(op.constraint, models.CheckConstraint):
            return add_check(ctx)
        if kind == "AddField":
            return add_field(ctx, rules)
        if kind == "AlterField":
            return alter_field(ctx, rules)
        if kind in ("AddConstraint", "AlterUniqueTogether", "AlterIndexTogether"):
            return rewritten(ctx, phase=_constraint_phase(ctx))
    except RecipeError as exc:
        return Problem(str(exc))
    return Problem(f"no recipe for {kind} with {rule_list}")


class RecipeError(Exception):
    """The recipe does not apply to this operation's shape (one line)."""


def _constraint_phase(ctx: OpContext) -> Phase:
    """A new UNIQUE or CHECK on existing columns rejects writes the old code may still make."""
    return POST


# --- the generic rewrite: same operation, safe statements -----------------------------------


def rewritten(
    ctx: OpContext,
    *,
    operation: Any = None,
    phase: Phase = PRE,
    title: str = "",
    unsafe_ok: bool = False,
) -> list[Stage]:
    """``operation`` (default: ctx's) with its SQL regrouped into safe stages (sql.SafeSql)."""
    operation = operation or ctx.operation
    safe = rewrite(ctx.sql(operation))
    if safe.unsafe and not unsafe_ok:
        raise RecipeError("no safe rewrite for: " + "; ".join(safe.unsafe))
    return _stages(safe, operation, phase, title or operation.describe())


def _runsql(sql: str, reverse: str | None) -> Any:
    return runsql(sql.strip(), reverse)


def _stages(safe: SafeSql, operation: Any, phase: Phase, title: str) -> list[Stage]:
    slug = _slug_of(operation)
    if safe.as_is:
        return [Stage(phase, [operation], title=title, slug=slug)]
    now = [_runsql(s, r) for s, r in safe.now + safe.drop_default]
    stages = [Stage(phase, [separate(now, [operation])], title=title, slug=slug)]
    for create, drop in safe.concurrent:
        index = _object_name(create, "INDEX")
        stages.append(
            Stage(
                phase,
                [runsql(rebuild(create.strip(), drop), drop)],
                atomic=False,
                alone=True,
                title=f"build index {index} concurrently",
                slug=f"{slug}_index",
            )
        )
    if safe.attach:
        stages.append(
            Stage(
                phase,
                [_runsql(s, r) for s, r in safe.attach],
                title="add the constraints NOT VALID or USING INDEX (no scan)",
                slug=f"{slug}_constraints",
            )
        )
    for sql in safe.validate:
        name = _object_name(sql, "CONSTRAINT")
        stages.append(
            Stage(phase, [_runsql(sql, None)], alone=True, title=f"validate {name}", slug=f"{slug}_validate")
        )
    return stages


def _object_name(sql: str, keyword: str) -> str:
    """The name after ``keyword`` (and IF NOT EXISTS / CONCURRENTLY) in a statement."""
    words = sql.replace('"', "").split()
    upper = [w.upper() for w in words]
    if keyword in upper:
        rest = [
            w
            for w, u in zip(words[upper.index(keyword) + 1 :], upper[upper.index(keyword) + 1 :], strict=True)
            if u not in ("CONCURRENTLY", "IF", "NOT", "EXISTS")
        ]
        if rest:
            return rest[0]
    return "?"


def _slug_of(operation: Any) -> str:
    try:
        return str(operation.migration_name_fragment)
    except (AttributeError, NotImplementedError):
        return type(operation).__name__.lower()


# --- R1: drop a column / a table in two releases ---------------------------------------------


def drop_column(ctx: OpContext) -> list[Stage]:
    op = ctx.operation
    model = ctx.model()
    field_obj = model._meta.get_field(op.name)
    if field_obj.many_to_many:
        raise RecipeError("removing a many-to-many field drops its table: plan it like drop-table by hand")
    table = model._meta.db_table
    column = field_obj.column
    first: list[Any] = []
    changes: dict[str, Any] = {}
    if not field_obj.null and getattr(field_obj, "db_default", NOT_PROVIDED) is NOT_PROVIDED:
        changes["null"] = True  # the new code's INSERTs leave the column out
    if field_obj.is_relation and getattr(field_obj, "db_constraint", False):
        changes["db_constraint"] = False  # the new code no longer deletes children it cannot see
    if changes:
        first.append(migrations.AlterField(op.model_name, op.name, clone_field(field_obj, **changes)))
    first.append(state_only(op))
    db_type = field_obj.db_type(ctx.connection) or "text"
    drop = runsql(
        f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(column)}",
        f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(column)} {db_type} NULL",
    )
    return [
        Stage(
            PRE,
            first,
            title=f"remove {op.model_name}.{op.name} from the state only; the column stays"
            + (" (nullable now)" if "null" in changes else ""),
            slug=f"remove_{op.model_name_lower}_{op.name_lower}",
        ),
        Stage(
            POST,
            [drop],
            title=f"drop column {table}.{column}",
            slug=f"drop_{op.model_name_lower}_{op.name_lower}",
        ),
    ]


def drop_table(ctx: OpContext) -> list[Stage]:
    op = ctx.operation
    model = ctx.model()
    first: list[Any] = []
    drops: list[Any] = []
    for f in model._meta.local_fields:
        if f.is_relation and getattr(f, "db_constraint", False):
            first.append(migrations.AlterField(op.name, f.name, clone_field(f, db_constraint=False)))
    for f in model._meta.local_many_to_many:
        through = f.remote_field.through
        if through._meta.auto_created:
            table = through._meta.db_table
            drops.append(runsql(f"DROP TABLE IF EXISTS {q(table)}"))
    first.append(state_only(op))
    drops.append(runsql(f"DROP TABLE IF EXISTS {q(model._meta.db_table)}"))
    return [
        Stage(
            PRE,
            first,
            title=f"remove model {op.name} from the state only; the table stays",
            slug=f"remove_{op.name_lower}",
        ),
        Stage(POST, drops, title=f"drop table {model._meta.db_table}", slug=f"drop_{op.name_lower}"),
    ]


# --- R3: rename a table behind a view ------------------------------------------------------------


def rename_table(ctx: OpContext) -> list[Stage]:
    nodes = statements(ctx.sql())
    if len(nodes) != 1 or not (
        isinstance(nodes[0], ast.RenameStmt) and nodes[0].renameType == OBJ.OBJECT_TABLE
    ):
        raise RecipeError("the rename also changes related columns or many-to-many tables: plan it by hand")
    old = str(getattr(nodes[0].relation, "relname", ""))
    new = str(nodes[0].newname)
    forwards = [
        f"ALTER TABLE {q(old)} RENAME TO {q(new)}",
        f"CREATE VIEW {q(old)} AS SELECT * FROM {q(new)}",
    ]
    backwards = [f"DROP VIEW IF EXISTS {q(old)}", f"ALTER TABLE {q(new)} RENAME TO {q(old)}"]
    return [
        Stage(
            PRE,
            [separate([runsql(forwards, backwards)], [ctx.operation])],
            title=f"rename {old} to {new}; a view named {old} serves the old code",
            slug=f"rename_{old}",
        ),
        Stage(
            POST,
            [runsql(f"DROP VIEW IF EXISTS {q(old)}", f"CREATE VIEW {q(old)} AS SELECT * FROM {q(new)}")],
            title=f"drop the view {old}",
            slug=f"drop_view_{old}",
        ),
    ]


# --- R2 / R10: a column replaced through a synchronised copy ----------------------------------------


def _plain_column(field_obj: Any, what: str, *, indexes: bool = False) -> None:
    """Refuse columns whose dependents the recipe cannot carry over (``indexes``: single-column
    indexes and UNIQUE are carried)."""
    reasons = []
    if field_obj.primary_key:
        reasons.append("a primary key")
    if field_obj.is_relation:
        reasons.append("a foreign key")
    if (field_obj.unique or field_obj.db_index) and not indexes:
        reasons.append("indexed or unique")
    if getattr(field_obj, "db_default", NOT_PROVIDED) is not NOT_PROVIDED:
        reasons.append("a database default")
    if getattr(field_obj, "generated", False):
        reasons.append("generated")
    if reasons:
        raise RecipeError(
            f"{what} of a column that is {' and '.join(reasons)}: its indexes and constraints must be "
            "rebuilt on the new column, which is not automated yet; plan it by hand"
        )


def _pk_column(model: Any) -> tuple[str, bool]:
    pk = model._meta.pk
    return pk.column, pk.get_internal_type() in (
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
    )


def sql_backfill(
    name: str, table: str, target: str, source: str, pk: str, integer_pk: bool, cast: str | None = None
) -> Any:
    """R9 for a column the state does not know: UPDATE in batches, one transaction each.
    ``cast``: the target's type when it differs from the source's (a type change)."""
    where = f"{q(target)} IS NULL AND {q(source)} IS NOT NULL"
    value = f"CAST({q(source)} AS {cast})" if cast else q(source)
    if integer_pk:
        body = f"""
        def {name}(apps, schema_editor):
            # copy {source} into {target}, BATCH rows per transaction along the primary key
            connection = schema_editor.connection
            with connection.cursor() as cursor:
                cursor.execute('SELECT min({q(pk)}), max({q(pk)}) FROM {q(table)}')
                low, high = cursor.fetchone()
            if low is None:
                return
            for start in range(low, high + 1, BATCH):
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.execute(
                        'UPDATE {q(table)} SET {q(target)} = {value} '
                        'WHERE {q(pk)} >= %s AND {q(pk)} < %s AND {where}',
                        [start, start + BATCH],
                    )
                time.sleep(0.05)  # let replicas and autovacuum keep up
        """
    else:
        body = f"""
        def {name}(apps, schema_editor):
            # copy {source} into {target}, BATCH rows per transaction
            connection = schema_editor.connection
            while True:
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.execute(
                        'UPDATE {q(table)} SET {q(target)} = {value} WHERE ctid = ANY(ARRAY('
                        'SELECT ctid FROM {q(table)} WHERE {where} LIMIT %s))',
                        [BATCH],
                    )
                    done = cursor.rowcount == 0
                if done:
                    break
                time.sleep(0.05)
        """
    func = local_function(
        name, textwrap.dedent(body).strip() + "\n", ("import time", "from django.db import transaction")
    )
    return migrations.RunPython(func, migrations.RunPython.noop)


def orm_backfill(app_label: str, model: str, field_name: str, value: Any, per_row: bool) -> Any:
    """R9 through the ORM (apps.get_model): fill NULLs with the field's default, in batches."""
    from ..sqlcollect import serialize  # MigrationWriter's serializer, with a repr fallback

    code = serialize(value)
    imports = ["import time", "from django.db import transaction"]
    module = code.split("(", 1)[0].rsplit(".", 1)[0] if "." in code.split("(", 1)[0] else ""
    if module and module not in ("models", "migrations"):
        imports.append(f"import {module}")
    name = f"backfill_{model.lower()}_{field_name}"
    if per_row:
        fill = [
            f"rows = list(Model.objects.using(db).filter(pk__in=ids, {field_name}__isnull=True))",
            "for row in rows:",
            f"    row.{field_name} = {code}()  # one value per row",
            # batch_size bounds the UPDATE as the ids do (unbatched-backfill reads it, not the loop)
            f"Model.objects.using(db).bulk_update(rows, [{field_name!r}], batch_size=BATCH)",
        ]
    else:
        fill = [
            f"Model.objects.using(db).filter(pk__in=ids, {field_name}__isnull=True).update({field_name}={code})"
        ]
    lines = [
        f"def {name}(apps, schema_editor):",
        f"    # fill {field_name} where it is NULL, BATCH rows per transaction; safe to re-run",
        f"    Model = apps.get_model({app_label!r}, {model!r})",
        "    db = schema_editor.connection.alias",
        "    last = None",
        "    while True:",
        "        with transaction.atomic(using=db):  # one short transaction per batch",
        f'            rows = Model.objects.using(db).filter({field_name}__isnull=True).order_by("pk")',
        "            if last is not None:",
        "                rows = rows.filter(pk__gt=last)",
        '            ids = list(rows.values_list("pk", flat=True)[:BATCH])',
        "            if not ids:",
        "                break",
        *(f"            {line}" for line in fill),
        "        last = ids[-1]",
        "        time.sleep(0.05)  # let replicas and autovacuum keep up",
    ]
    body = "\n".join(lines)
    func = local_function(name, textwrap.dedent(body).strip() + "\n", tuple(imports))
    return migrations.RunPython(func, migrations.RunPython.noop)


def _sync_trigger(table: str, pairs: list[tuple[str, str]], both_ways: bool) -> tuple[str, str, str]:
    """(CREATE FUNCTION, CREATE TRIGGER, DROP both) keeping column copies in step on every write.

    ``pairs``: (old column, new column). One way: every write to the old column is copied.
    Both ways: an INSERT fills whichever side it left out, an UPDATE copies the side it changed.
    """
    function = _name(table, pairs[0][1], suffix="sync")
    if both_ways:
        lines = ["IF TG_OP = 'INSERT' THEN"]
        for old, new in pairs:
            lines += [
                f"  IF NEW.{q(new)} IS NULL THEN NEW.{q(new)} := NEW.{q(old)}; END IF;",
                f"  IF NEW.{q(old)} IS NULL THEN NEW.{q(old)} := NEW.{q(new)}; END IF;",
            ]
        for old, new in pairs:
            lines += [
                f"ELSIF NEW.{q(new)} IS DISTINCT FROM OLD.{q(new)} THEN NEW.{q(old)} := NEW.{q(new)};",
                f"ELSIF NEW.{q(old)} IS DISTINCT FROM OLD.{q(old)} THEN NEW.{q(new)} := NEW.{q(old)};",
            ]
        lines.append("END IF;")
        body = " ".join(lines)
    else:
        body = " ".join(f"NEW.{q(new)} := NEW.{q(old)};" for old, new in pairs)
    create_function = (
        f"CREATE OR REPLACE FUNCTION {q(function)}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body} RETURN NEW; END $$"
    )
    create_trigger = (
        f"CREATE TRIGGER {q(function)} BEFORE INSERT OR UPDATE ON {q(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {q(function)}()"
    )
    drop = f"DROP TRIGGER IF EXISTS {q(function)} ON {q(table)}; DROP FUNCTION IF EXISTS {q(function)}()"
    return create_function, create_trigger, drop


def rename_column(ctx: OpContext) -> list[Stage]:
    """R2, expand/contract: a new column kept in step both ways, the old one dropped post-deploy."""
    op = ctx.operation
    model = ctx.model()
    old_field = model._meta.get_field(op.old_name)
    _plain_column(old_field, "renaming", indexes=True)
    if old_field.db_check(ctx.connection):
        raise RecipeError("renaming a column with a CHECK (e.g. a positive integer) is not automated yet")
    if old_field.db_column:
        raise RecipeError("the field sets db_column: its column is not renamed, nothing to plan")
    table = model._meta.db_table
    old = old_field.column
    to_state = ctx.to_state()
    new_model = ctx.model(to_state)
    final = new_model._meta.get_field(op.new_name)
    new = final.column
    db_type = old_field.db_type(ctx.connection)
    create_function, create_trigger, drop_trigger = _sync_trigger(table, [(old, new)], both_ways=True)
    pk, integer_pk = _pk_column(model)
    slug = f"{op.model_name_lower}_{op.new_name_lower}"
    state_ops: list[Any] = [op]
    if not final.null:
        # NOT NULL comes once the copy is complete (R5): until then the state says NULL.
        state_ops.append(migrations.AlterField(op.model_name, op.new_name, clone_field(final, null=True)))
    expand = separate(
        [
            runsql(
                [
                    f"ALTER TABLE {q(table)} ADD COLUMN {q(new)} {db_type} NULL",
                    create_function,
                    create_trigger,
                ],
                [*drop_trigger.split("; "), f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(new)}"],
            )
        ],
        state_ops,
    )
    stages = [
        Stage(
            PRE,
            [expand],
            title=f"add column {new} next to {old}; a trigger keeps both in step on every write",
            slug=f"add_{slug}",
        ),
        Stage(
            PRE,
            [sql_backfill(f"copy_{table}_{old}", table, new, old, pk, integer_pk)],
            atomic=False,
            alone=True,
            title=f"copy {old} into {new} in batches",
            slug=f"copy_{slug}",
        ),
    ]
    # RENAME COLUMN keeps the names of the column's indexes and UNIQUE constraint: the new
    # column gets the same objects under temporary names, which take the old names once the
    # old column (and its objects) are dropped.
    renames, attach = _copied_objects(ctx, model, old, new_model, new, slug, stages)
    if attach:
        stages.append(
            Stage(
                PRE,
                [
                    runsql(
                        f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(temporary)} UNIQUE USING INDEX {q(temporary)}",
                        f"ALTER TABLE {q(table)} DROP CONSTRAINT IF EXISTS {q(temporary)}",
                    )
                    for _, temporary in attach
                ],
                title=f"make the unique index on {new} a constraint (USING INDEX: no scan)",
                slug=f"{slug}_unique",
            )
        )
    if not final.null:
        stages += _set_not_null_stages(ctx, new_model, final, NOT_PROVIDED, False, slug, phase=PRE)
    contract = [*drop_trigger.split("; "), f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(old)}"]
    contract += [f"ALTER TABLE {q(table)} RENAME CONSTRAINT {q(t)} TO {q(n)}" for n, t in attach]
    contract += [f"ALTER INDEX {q(t)} RENAME TO {q(n)}" for n, t in renames]
    restore = [f"ALTER INDEX {q(n)} RENAME TO {q(t)}" for n, t in renames]
    restore += [f"ALTER TABLE {q(table)} RENAME CONSTRAINT {q(n)} TO {q(t)}" for n, t in attach]
    # The old column as it was: the values (the trigger kept both in step until the drop, the new
    # column has them all), NOT NULL, its indexes and UNIQUE under their names, and the trigger.
    restore += [
        f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(old)} {db_type} NULL",
        f"UPDATE {q(table)} SET {q(old)} = {q(new)} WHERE {q(old)} IS DISTINCT FROM {q(new)}",
        *([] if old_field.null else [f"ALTER TABLE {q(table)} ALTER COLUMN {q(old)} SET NOT NULL"]),
        *recreate_objects(table, column_objects(ctx, model, old), old),
        create_function,
        create_trigger,
    ]
    stages.append(
        Stage(
            POST,
            [runsql(contract, restore)],
            title=f"drop the trigger and the old column {old}",
            slug=f"drop_{op.model_name_lower}_{op.old_name_lower}",
        )
    )
    return stages


def _kind(node: Any) -> tuple[bool, tuple[str, ...]]:
    """What tells a column's indexes apart: unique or not, and the operator classes."""
    opclasses = tuple(
        ".".join(str(getattr(n, "sval", n)) for n in (p.opclass or ())) for p in node.indexParams or ()
    )
    return bool(node.unique), opclasses


def _copied_objects(
    ctx: OpContext, model: Any, old: str, new_model: Any, new: str, slug: str, stages: list[Stage]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Index stages for the renamed column's objects, built on the new column concurrently.

    Returns (index renames, unique constraints) as (final name, temporary name): the final
    names are the old column's, which RENAME COLUMN would have kept.
    """
    table = model._meta.db_table
    before = column_objects(ctx, model, old)
    after = column_objects(ctx, new_model, new)
    if len(before.uniques) != len(after.uniques) or sorted(map(_kind, before.indexes.values())) != sorted(
        map(_kind, after.indexes.values())
    ):
        raise RecipeError(f"the indexes of {table}.{old} do not map one to one onto {new}: plan it by hand")
    attach = []
    for n, name in enumerate(before.uniques):
        temporary = _name(table, new, suffix=f"u{n}")
        create = f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(temporary)} ON {q(table)} ({q(new)})"
        stages.append(_index_stage(create, temporary, f"{slug}_unique_index"))
        attach.append((name, temporary))
    renames = []
    olds = {_kind(node): name for name, node in before.indexes.items()}
    for n, node in enumerate(after.indexes.values()):
        temporary = _name(table, new, suffix=f"i{n}")
        clone = copy.deepcopy(node)
        clone.idxname = temporary
        clone.concurrent = True
        clone.if_not_exists = True
        stages.append(_index_stage(deparse(clone), temporary, f"{slug}_index"))
        renames.append((olds[_kind(node)], temporary))
    return renames, attach


@dataclass
class ColumnObjects:
    """What Django creates on one column of a model: UNIQUE constraints and indexes."""

    uniques: list[str] = field(default_factory=list)  # constraint names
    indexes: dict[str, Any] = field(default_factory=dict)  # name -> pglast IndexStmt


def column_objects(ctx: OpContext, model: Any, column: str) -> ColumnObjects:
    """The UNIQUE constraints and indexes on ``column`` as Django would create the model
    (names included: PostgreSQL's for inline UNIQUE, Django's for the rest). A column that
    also belongs to a multi-column constraint or index, or is referenced by a foreign key,
    is refused: those cannot move to a new column one by one."""
    from ..offline import offline_patches
    from ..pgnames import implicit_constraint_name

    editor = ctx.connection.schema_editor(collect_sql=True, atomic=False)
    editor.deferred_sql = []
    editor._safe_migrations_emulating = True  # do not feed the offline catalogue
    with offline_patches():
        editor.create_model(model)
    table = model._meta.db_table
    found = ColumnObjects()
    refuse = RecipeError(
        f"{table}.{column} is part of a multi-column constraint or index: plan the type change by hand"
    )
    for node in statements([*map(str, editor.collected_sql), *map(str, editor.deferred_sql)]):
        relation = getattr(getattr(node, "relation", None), "relname", None)
        if isinstance(node, ast.CreateStmt) and relation == table:
            for elt in node.tableElts or ():
                if isinstance(elt, ast.ColumnDef) and elt.colname == column:
                    for con in elt.constraints or ():
                        if con.contype == enums.ConstrType.CONSTR_UNIQUE:
                            found.uniques.append(
                                con.conname or implicit_constraint_name(table, [column], "key")
                            )
                elif isinstance(elt, ast.Constraint) and column in [k.sval for k in elt.keys or ()]:
                    if len(elt.keys or ()) > 1 or elt.contype != enums.ConstrType.CONSTR_UNIQUE:
                        raise refuse
                    found.uniques.append(str(elt.conname))
        elif isinstance(node, ast.AlterTableStmt) and relation == table:
            for cmd in node.cmds or ():
                con = cmd.def_
                if isinstance(con, ast.Constraint) and column in [k.sval for k in con.keys or ()]:
                    if len(con.keys or ()) > 1 or con.contype != enums.ConstrType.CONSTR_UNIQUE:
                        raise refuse
                    found.uniques.append(str(con.conname))
        elif isinstance(node, ast.IndexStmt) and relation == table:
            names = [p.name for p in node.indexParams or ()]
            if column in names:
                if names != [column] or node.whereClause is not None or node.indexIncludingParams:
                    raise refuse
                found.indexes[str(node.idxname)] = node
    for other in model._meta.apps.get_models(include_auto_created=True):
        for f in other._meta.local_fields:
            target = getattr(f, "target_field", None) if f.is_relation else None
            if target is not None and target.model is model and target.column == column and not f.primary_key:
                raise RecipeError(f"{table}.{column} is referenced by foreign key {other.__name__}.{f.name}")
    return found


def recreate_objects(
    table: str, objects: ColumnObjects, column: str, named: Callable[[str], str] = lambda name: name
) -> list[str]:
    """SQL rebuilding ``objects`` (found on some column) on ``column``, each under ``named(its name)``:
    what the reverse of a dropped column needs so that the reverses before it find every name.
    Plain CREATE INDEX and ADD CONSTRAINT: a rollback runs in the migration's transaction."""
    out = [
        f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(named(name))} UNIQUE ({q(column)})"
        for name in objects.uniques
    ]
    for name, node in objects.indexes.items():
        clone = copy.deepcopy(node)
        clone.idxname = named(name)
        clone.concurrent = False
        clone.if_not_exists = False
        for param in clone.indexParams:
            param.name = column
        out.append(deparse(clone))
    return out


def _assign(target: str, source: str, target_type: str) -> str:
    """The value of ``source`` for an UPDATE of ``target``: an assignment cast into a string type
    (an explicit CAST to varchar(n) would truncate silently; assignment fails as ALTER TYPE does),
    an explicit CAST otherwise (no assignment cast from, e.g., varchar to integer)."""
    if target_type.split("(")[0].strip().lower() in ("varchar", "char", "text", "character varying"):
        return q(source)
    return f"CAST({q(source)} AS {target_type})"


def change_type(ctx: OpContext, old_field: Any, new_field: Any) -> list[Stage]:
    """R10: a new column of the new type kept in step by a trigger, a batched copy, then a swap
    by renames in one short transaction (the column keeps its name, so old and new code both
    keep working), NOT NULL through R5, and the old copy dropped post-deploy."""
    op = ctx.operation
    model = ctx.model()
    _plain_column(old_field, "changing the type", indexes=True)
    _plain_column(new_field, "changing the type", indexes=True)
    if old_field.null != new_field.null:
        raise RecipeError("the type and the nullability change together: split them first")
    if new_field.db_check(ctx.connection) or old_field.db_check(ctx.connection):
        raise RecipeError("the column has a CHECK (e.g. a positive integer): not automated yet")
    table = model._meta.db_table
    column = old_field.column
    temp = _name(column, suffix="new") if len(column) > 59 else f"{column}_new"
    kept = _name(column, suffix="old") if len(column) > 59 else f"{column}_old"
    new_type = new_field.db_type(ctx.connection)
    old_type = old_field.db_type(ctx.connection)
    create_function, create_trigger, drop_trigger = _sync_trigger(table, [(column, temp)], both_ways=False)
    pk, integer_pk = _pk_column(model)
    slug = f"{op.model_name_lower}_{op.name_lower}"
    stages = [
        Stage(
            PRE,
            [
                runsql(
                    [
                        f"ALTER TABLE {q(table)} ADD COLUMN {q(temp)} {new_type} NULL",
                        create_function,
                        create_trigger,
                    ],
                    [*drop_trigger.split("; "), f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(temp)}"],
                )
            ],
            title=f"add column {temp} {new_type}; a trigger copies every write of {column} into it",
            slug=f"add_{slug}_new",
        ),
        Stage(
            PRE,
            [sql_backfill(f"copy_{table}_{column}", table, temp, column, pk, integer_pk, cast=new_type)],
            atomic=False,
            alone=True,
            title=f"copy {column} into {temp} in batches",
            slug=f"copy_{slug}",
        ),
    ]
    # The new column gets the indexes the new field has, built concurrently under temporary
    # names; the swap frees the final names (the old objects stay on the old copy until it is
    # dropped) and gives them to the new ones.
    before = column_objects(ctx, model, column)
    after = column_objects(ctx, ctx.model(ctx.to_state()), column)
    existing = set(before.uniques) | set(before.indexes)
    renames: list[tuple[str, str]] = []  # (final name, temporary name)
    attach: list[tuple[str, str]] = []
    for name in after.uniques:
        temporary = _name(table, temp, suffix=f"u{len(attach)}")
        create = f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(temporary)} ON {q(table)} ({q(temp)})"
        stages.append(_index_stage(create, temporary, f"{slug}_unique_index"))
        attach.append((name, temporary))
    for name, node in after.indexes.items():
        temporary = _name(table, temp, suffix=f"i{len(renames)}")
        clone = copy.deepcopy(node)
        clone.idxname = temporary
        clone.concurrent = True
        clone.if_not_exists = True
        for param in clone.indexParams:
            param.name = temp
        stages.append(_index_stage(deparse(clone), temporary, f"{slug}_index"))
        renames.append((name, temporary))
    # The old column's objects the swap renames to <name>_old; the others keep their names.
    swapped = {name for name, _ in [*attach, *renames] if name in existing}
    swap = [
        *drop_trigger.split("; "),
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(column)} TO {q(kept)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(temp)} TO {q(column)}",
    ]
    unswap = [
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(column)} TO {q(temp)}",
        f"ALTER TABLE {q(table)} RENAME COLUMN {q(kept)} TO {q(column)}",
        create_function,
        create_trigger,
    ]
    for name, temporary in attach:
        old_name = _name(name, suffix="old")
        if name in existing:
            swap.append(f"ALTER TABLE {q(table)} RENAME CONSTRAINT {q(name)} TO {q(old_name)}")
        swap.append(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE USING INDEX {q(temporary)}")
        unswap[:0] = [
            f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}",
            *(
                [f"ALTER TABLE {q(table)} RENAME CONSTRAINT {q(old_name)} TO {q(name)}"]
                if name in existing
                else []
            ),
        ]
    for name, temporary in renames:
        old_name = _name(name, suffix="old")
        if name in existing:
            swap.append(f"ALTER INDEX {q(name)} RENAME TO {q(old_name)}")
        swap.append(f"ALTER INDEX {q(temporary)} RENAME TO {q(name)}")
        unswap[:0] = [
            f"ALTER INDEX {q(name)} RENAME TO {q(temporary)}",
            *([f"ALTER INDEX {q(old_name)} RENAME TO {q(name)}"] if name in existing else []),
        ]
    state_ops: list[Any] = [op]
    if not new_field.null:
        # Nobody writes the old copy any more: it must accept the rows that leave it out.
        swap.append(f"ALTER TABLE {q(table)} ALTER COLUMN {q(kept)} DROP NOT NULL")
        unswap.insert(0, f"ALTER TABLE {q(table)} ALTER COLUMN {q(kept)} SET NOT NULL")
        state_ops.append(migrations.AlterField(op.model_name, op.name, clone_field(new_field, null=True)))
    # Since the swap nobody wrote the old copy (rows inserted or updated since, or all of them
    # when the drop step's reverse re-added it): going back, it takes the current values first.
    value = _assign(kept, column, old_type)
    unswap.insert(0, f"UPDATE {q(table)} SET {q(kept)} = {value} WHERE {q(kept)} IS DISTINCT FROM {value}")
    stages.append(
        Stage(
            PRE,
            [separate([runsql(swap, unswap)], state_ops)],
            title=f"swap by renames in one short transaction: {column} -> {kept}, {temp} -> {column}",
            slug=f"swap_{slug}",
        )
    )
    if not new_field.null:
        stages += _set_not_null_stages(
            ctx, ctx.model(ctx.to_state()), new_field, NOT_PROVIDED, False, slug, phase=PRE
        )
    stages.append(
        Stage(
            POST,
            [
                runsql(
                    f"ALTER TABLE {q(table)} DROP COLUMN IF EXISTS {q(kept)}",
                    # The old copy as the swap left it: nullable, its indexes and constraints
                    # under the names the swap gave them (the swap's reverse fills it in).
                    [
                        f"ALTER TABLE {q(table)} ADD COLUMN IF NOT EXISTS {q(kept)} {old_type} NULL",
                        *recreate_objects(
                            table, before, kept, lambda n: _name(n, suffix="old") if n in swapped else n
                        ),
                    ],
                )
            ],
            title=f"drop the old copy {kept}",
            slug=f"drop_{slug}_old",
        )
    )
    return stages


def rebuild(create: str, drop: str) -> list[str]:
    """A concurrent build a retry redoes: a failed or cancelled CREATE INDEX CONCURRENTLY leaves
    an INVALID index under its name, which IF NOT EXISTS would keep (RULES.md SM307), so the
    name is dropped first; each statement runs on its own in the atomic = False migration."""
    return [drop, create]


def _index_stage(create: str, name: str, slug: str) -> Stage:
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    return Stage(
        PRE,
        [runsql(rebuild(create, drop), drop)],
        atomic=False,
        alone=True,
        title=f"build index {name} on the new column concurrently",
        slug=slug,
    )


# --- R8: indexes ------------------------------------------------------------------------------------


def add_index(ctx: OpContext) -> list[Stage]:
    """Django's own CREATE INDEX CONCURRENTLY for the index, its name dropped first so that a
    failed or cancelled build (an INVALID index left under the name) is redone by a retry;
    AddIndexConcurrently would stop on "relation already exists"."""
    from django.contrib.postgres.operations import AddIndexConcurrently

    op = ctx.operation
    name = op.index.name
    drop = f"DROP INDEX CONCURRENTLY IF EXISTS {q(name)}"
    creates = [s.rstrip().rstrip(";") for s in ctx.sql(AddIndexConcurrently(op.model_name, op.index))]
    if len(creates) == 1:
        database = runsql(rebuild(creates[0], drop), drop)
        operation = separate([database], [migrations.AddIndex(op.model_name, op.index)])
    else:  # not one statement (never seen): Django's own operation
        operation = AddIndexConcurrently(op.model_name, op.index)
    return [
        Stage(
            PRE,
            [operation],
            atomic=False,
            alone=True,
            title=f"build index {name} concurrently",
            slug=op.migration_name_fragment,
        )
    ]


def add_check(ctx: OpContext) -> list[Stage]:
    from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint

    op = ctx.operation
    return [
        Stage(
            POST,
            [AddConstraintNotValid(op.model_name, op.constraint)],
            title=f"add CHECK {op.constraint.name} NOT VALID (no scan)",
            slug=op.migration_name_fragment,
            notes=[
                f"{op.constraint.name}: the code deployed before it must already respect the condition; "
                "rows that break it make VALIDATE fail, as they would make the original fail."
            ],
        ),
        Stage(
            POST,
            [ValidateConstraint(op.model_name, op.constraint.name)],
            alone=True,
            title=f"validate {op.constraint.name}",
            slug=f"validate_{op.constraint.name}",
        ),
    ]


# --- R4 / R5 / R6 / R7: fields --------------------------------------------------------------------


def _final_field(ctx: OpContext) -> Any:
    """The field after the operation, on its rendered model (clone it for an operation)."""
    return ctx.model(ctx.to_state())._meta.get_field(ctx.operation.name)


def add_field(ctx: OpContext, rules: set[str]) -> list[Stage]:
    """R4 (NOT NULL), with R6/R7/R8 for the constraints and indexes the column brings."""
    op = ctx.operation
    field_obj = op.field
    has_db_default = getattr(field_obj, "db_default", NOT_PROVIDED) is not NOT_PROVIDED
    if field_obj.null or has_db_default or field_obj.many_to_many:
        return rewritten(ctx, title=f"add column {op.name} (constraints and indexes come after)")
    if not field_obj.has_default():
        raise RecipeError(
            "a NOT NULL column without any default cannot be added to a table with rows: "
            "give the field a default or a db_default"
        )
    value = field_obj.default
    callable_default = callable(value)
    final = _final_field(ctx)
    if field_obj.unique and not callable_default:
        raise RecipeError(
            "every existing row would get the same default, which a unique column rejects: "
            "add it nullable and fill distinct values first"
        )
    model = ctx.model()
    slug = f"{op.model_name_lower}_{op.name_lower}"
    if ctx.django_version >= (5, 0) and not callable_default:
        # R4: the database keeps the default while old code inserts rows without the column.
        interim = clone_field(field_obj, db_default=value)
        if not op.preserve_default:
            interim = clone_field(interim, default=NOT_PROVIDED)
        stages = rewritten(
            ctx,
            operation=migrations.AddField(op.model_name, op.name, interim),
            title=f"add column {op.name} with db_default={value!r}: old INSERTs get the default",
        )
        stages[0].slug = op.migration_name_fragment
        stages.append(
            Stage(
                POST,
                [migrations.AlterField(op.model_name, op.name, clone_field(final))],
                title=f"drop the database default of {op.name} (the field as the original declared it)",
                slug=f"{slug}_drop_db_default",
            )
        )
        return stages
    # Nullable first: old code inserts NULL; the backfill and NOT NULL wait for the new code.
    interim = clone_field(field_obj, null=True)
    if callable_default:
        interim = clone_field(interim, default=NOT_PROVIDED)  # one value for every row is wrong
    stages = rewritten(
        ctx,
        operation=migrations.AddField(op.model_name, op.name, interim),
        title=f"add column {op.name} as NULL",
    )
    stages[0].slug = op.migration_name_fragment
    stages += _set_not_null_stages(ctx, model, final, value, callable_default, slug)
    if ctx.django_version < (5, 0):
        stages[0].notes.append(
            f"{op.name}: Django {ctx.django_version[0]}.{ctx.django_version[1]} has no db_default, so the "
            "column is added nullable, backfilled after the deploy, then made NOT NULL."
        )
    return stages


def _set_not_null_stages(
    ctx: OpContext,
    model: Any,
    final: Any,
    value: Any,
    per_row: bool,
    slug: str,
    *,
    phase: Phase = POST,
    model_name: str | None = None,
) -> list[Stage]:
    """R5 as Django operations: backfill (when there is a value), CHECK NOT VALID, VALIDATE,
    then SET NOT NULL (PostgreSQL 12+ skips the scan thanks to the validated CHECK) and the
    CHECK removed. ``final``: the NOT NULL field on its rendered model; the state must know
    the column as nullable until the last stage."""
    from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint

    model_name = model_name or ctx.operation.model_name
    table = model._meta.db_table
    column = final.column
    name = _name(table, column, suffix="notnull")
    stages = []
    if value is not NOT_PROVIDED and value is not None:
        stages.append(
            Stage(
                phase,
                [orm_backfill(ctx.app_label, model._meta.object_name, final.name, value, per_row)],
                atomic=False,
                alone=True,
                title=f"backfill {final.name} where it is NULL, in batches",
                slug=f"backfill_{slug}",
            )
        )
    # The database side is an AlterField to the field without its Python default: Django then
    # emits SET NOT NULL alone, not its SET DEFAULT + UPDATE + SET NOT NULL sequence.
    database_field = clone_field(final, default=NOT_PROVIDED)
    stages += [
        Stage(
            phase,
            [AddConstraintNotValid(model_name, check_constraint(final.name, name, ctx.django_version))],
            title=f"CHECK ({column} IS NOT NULL) NOT VALID",
            slug=f"{slug}_check",
        ),
        Stage(
            phase,
            [ValidateConstraint(model_name, name)],
            alone=True,
            title="validate the CHECK (SHARE UPDATE EXCLUSIVE: traffic goes on)",
            slug=f"{slug}_validate",
        ),
        Stage(
            phase,
            [
                separate(
                    [migrations.AlterField(model_name, final.name, database_field)],
                    [migrations.AlterField(model_name, final.name, clone_field(final))],
                ),
                migrations.RemoveConstraint(model_name, name),
            ],
            title=f"SET NOT NULL on {column} (the validated CHECK spares the scan), drop the CHECK",
            slug=f"{slug}_not_null",
        ),
    ]
    return stages


def _differs(old_field: Any, new_field: Any, *ignore: str) -> set[str]:
    _, _, old_args, old_kwargs = old_field.deconstruct()
    _, _, new_args, new_kwargs = new_field.deconstruct()
    keys = set(old_kwargs) | set(new_kwargs)
    changed = {k for k in keys if old_kwargs.get(k, NOT_PROVIDED) != new_kwargs.get(k, NOT_PROVIDED)}
    if type(old_field) is not type(new_field) or old_args != new_args:
        changed.add("class")
    return changed - set(ignore)


def alter_field(ctx: OpContext, rules: set[str]) -> list[Stage]:
    op = ctx.operation
    model = ctx.model()
    old_field = model._meta.get_field(op.name)
    new_field = _final_field(ctx)
    if old_field.db_type(ctx.connection) != new_field.db_type(ctx.connection) and "SM109" in rules:
        return change_type(ctx, old_field, new_field)
    if old_field.null and not new_field.null:
        slug = f"{op.model_name_lower}_{op.name_lower}"
        stages: list[Stage] = []
        if _differs(old_field, new_field, "null"):
            # Everything but NOT NULL first, in its safe form.
            stages = rewritten(
                ctx,
                operation=migrations.AlterField(op.model_name, op.name, clone_field(new_field, null=True)),
                phase=PRE,
            )
        value = new_field.default if new_field.has_default() else NOT_PROVIDED
        if value is NOT_PROVIDED and op.field.has_default():
            # preserve_default=False: the default only fills the NULL rows (Django's UPDATE).
            value = op.field.default
        stages += _set_not_null_stages(ctx, model, new_field, value, callable(value), slug)
        if value is NOT_PROVIDED:
            stages[0].notes.append(
                f"{op.name} has no default: rows still NULL make VALIDATE fail, as they would make "
                "the original fail; backfill them before the post-deploy steps."
            )
        return stages
    adds_constraint = (new_field.unique and not old_field.unique) or (
        new_field.is_relation and getattr(new_field, "db_constraint", False)
    )
    return rewritten(ctx, phase=POST if adds_constraint else PRE)
