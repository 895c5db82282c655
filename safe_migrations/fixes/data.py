"""Fixes for the data-migration rules (SM3xx): reverses, batched backfills (R9), splits."""

from __future__ import annotations

import ast as pyast
import copy
import keyword
import textwrap
from collections.abc import Sequence
from typing import Any

from pglast import ast, enums

from ..facts import OperationFacts
from ..findings import Fix
from ..parsing.postgres import relname
from .recipes import LOCK_TIMEOUT_ATOMIC, imports_for, migration, py, q, rebuild_index

AT = enums.AlterTableType
OBJ = enums.ObjectType
BATCH = "5_000"


def _deparse(node: Any) -> str:
    from ..rules._ast import deparse

    try:
        return deparse(node)
    except Exception:  # noqa: BLE001 - pglast cannot print every node; the fix stays usable
        return f"<{type(node).__name__}>"


def op_code(op: OperationFacts) -> tuple[str, str | None]:
    """The operation as code without its module path, and the import it then needs."""
    code = op.code
    if op.kind == "RunSQL":
        code = code.replace("reverse_sql='',", "reverse_sql=migrations.RunSQL.noop,")
    module, _, cls = op.path.rpartition(".")
    if op.path.startswith("django.db.migrations") or not code.startswith(f"{module}.{cls}("):
        return code, None
    return code[len(module) + 1 :], f"from {module} import {cls}"


def ops_code(ops: Sequence[OperationFacts]) -> tuple[list[str], tuple[str, ...]]:
    """Operations as list entries, and their imports."""
    entries, imports = [], []
    for op in ops:
        code, imp = op_code(op)
        entries.append(code + ",")
        if imp and imp not in imports:
            imports.append(imp)
    return entries, tuple(imports)


def model_for_table(table: str, app_label: str) -> tuple[str, str]:
    """(app, model) Django would name ``table`` by default (apps.get_model ignores case)."""
    bare = table.split(".")[-1]
    if bare.startswith(f"{app_label}_"):
        return app_label, bare[len(app_label) + 1 :]
    app, sep, model = bare.partition("_")
    return (app, model) if sep else (app_label, bare)


def _class_name(model: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in model.split("_")) or "Model"


def data_migration(
    title: str,
    functions: Sequence[str],
    operations: Sequence[str],
    *,
    atomic: bool = True,
    imports: Sequence[str] = (),
) -> str:
    """A migration file whose RunPython functions are defined above the class."""
    body = "\n\n\n".join(textwrap.dedent(f).strip() for f in functions)
    # The user's own code copied into the functions may use modules (uuid, json, ...).
    needed = [i for i in imports_for(body + "\n" + "\n".join(operations)) if i not in imports]
    head = [f"# {title}", *imports, *needed, "from django.db import migrations, transaction", "", ""]
    klass = ["class Migration(migrations.Migration):"]
    if not atomic:
        klass.append("    atomic = False  # no migration-wide transaction: each batch commits on its own")
    klass.append("    dependencies = [...]  # as makemigrations wrote them")
    klass.append("    operations = [")
    klass += [textwrap.indent(op, " " * 8) for op in operations]
    klass.append("    ]")
    return "\n".join([*head, body, "", "", *klass])


# --------------------------------------------------------------------------- R9 batched backfill


def _batched_call(call: pyast.Call, root: str) -> str:
    """The write call restricted to one batch: Model.objects -> Model.objects.using(db).filter(pk__in=ids)."""

    class Narrow(pyast.NodeTransformer):
        done = False

        def visit_Attribute(self, node: pyast.Attribute) -> Any:
            base = node.value
            named = isinstance(base, pyast.Name) and base.id == root
            inline = (
                isinstance(base, pyast.Call)
                and isinstance(base.func, pyast.Attribute)
                and base.func.attr == "get_model"
            )
            if (
                not self.done
                and (named or inline)
                and node.attr in ("objects", "_default_manager", "_base_manager")
            ):
                self.done = True
                return pyast.parse(f"{root}.{node.attr}.using(db).filter(pk__in=ids)", mode="eval").body
            return self.generic_visit(node)

    narrowed = Narrow().visit(copy.deepcopy(call))
    return pyast.unparse(narrowed)


def backfill_function(name: str, app: str, model: str, var: str, inner: str) -> str:
    """R9: PK-ordered batches, one short transaction each, throttled."""
    return f"""
def {name}(apps, schema_editor):
    {var} = apps.get_model({py(app)}, {py(model)})
    db = schema_editor.connection.alias
    last = 0
    while True:
        with transaction.atomic(using=db):  # one short transaction per batch
            ids = list(
                {var}.objects.using(db).filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH]
            )
            if not ids:
                break
            {inner}
        last = ids[-1]
        time.sleep(0.05)  # let replicas and autovacuum keep up
"""


def sql_backfill_function(name: str, table: str, statement: str, pk: str = "id") -> str:
    """R9 for a hand-written UPDATE/DELETE: the same statement, one key range per transaction."""
    select = f"SELECT {q(pk)} FROM {q(table)} WHERE {q(pk)} > %s ORDER BY {q(pk)} LIMIT %s"
    return f"""
def {name}(apps, schema_editor):
    connection = schema_editor.connection
    last = 0
    while True:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute({py(select)}, [last, BATCH])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            cursor.execute({py(statement)}, [ids])
        last = ids[-1]
        time.sleep(0.05)  # let replicas and autovacuum keep up
"""


def batched_dml_sql(node: Any, pk: str = "id") -> str:
    """The UPDATE/DELETE limited to one batch of keys (psycopg placeholders)."""
    clone = copy.deepcopy(node)
    where = clone.whereClause
    clone.whereClause = None
    text = _deparse(clone).replace("%", "%%")
    condition = f"{q(pk)} = ANY(%s)"
    if where is not None:
        condition = f"({_deparse(where).replace('%', '%%')}) AND {condition}"
    return f"{text} WHERE {condition}"


BACKFILL_STEPS = (
    "Move the backfill into a migration of its own with `atomic = False`, so that no "
    "migration-wide transaction holds the row locks.",
    "Walk the table in primary-key order, a few thousand rows per batch, each batch in its own "
    "transaction.atomic(), with a short sleep between batches (replicas and autovacuum keep up).",
    "For tables that need more than a few minutes, run the same loop as a management command or "
    "background job after the deploy instead.",
)


def python_backfill(
    op: OperationFacts,
    app: str,
    model: str,
    var: str,
    call: pyast.Call | None,
    kind: str,
    line: int | None = None,
) -> Fix:
    """R9 for a RunPython write found in the function's source."""
    forwards, reverse, _, reverse_def = named_functions(op)
    name = f"{forwards}_batched"
    source = op.runpython.source if op.runpython else None
    if call is not None and kind in ("update", "delete"):
        inner = _batched_call(call, var)
    elif kind == "bulk_update" and call is not None:
        inner = _batched_bulk_update(source, call, var)
    else:
        inner = _batched_row_loop(source, line, var)
    code = data_migration(
        "a migration of its own (atomic = False): batched backfill",
        [f"BATCH = {BATCH}", backfill_function(name, app, model, var, inner), *filter(None, [reverse_def])],
        [f"migrations.RunPython({name}, {reverse}),"],
        atomic=False,
        imports=("import time", ""),
    )
    return Fix("Backfill in batches, one short transaction each (atomic = False)", BACKFILL_STEPS, code)


_NO_LOOP = 'raise NotImplementedError("change the rows of {var}.objects.using(db).filter(pk__in=ids) here")'


def _function_tree(source: str | None) -> pyast.AST | None:
    if not source:
        return None
    try:
        return pyast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None


def _indented(lines: Sequence[str], depth: int) -> str:
    """Lines of a block placed inside backfill_function's batch (12 spaces deep)."""
    pad = " " * depth
    return ("\n" + pad).join(line for text in lines for line in text.splitlines())


def _batched_bulk_update(source: str | None, call: pyast.Call, var: str) -> str:
    """bulk_update(objs, fields) limited to one batch: the loop that changed ``objs`` runs
    over the batch's rows, then one bulk_update saves them."""
    fields = (
        call.args[1]
        if len(call.args) > 1
        else next((k.value for k in call.keywords if k.arg == "fields"), None)
    )
    objs = call.args[0] if call.args else None
    tree = _function_tree(source)
    loop = None
    if tree is not None and isinstance(objs, pyast.Name):
        for node in pyast.walk(tree):
            if not isinstance(node, pyast.For) or not isinstance(node.target, pyast.Name):
                continue
            over = isinstance(node.iter, pyast.Name) and node.iter.id == objs.id
            appends = any(
                isinstance(c, pyast.Call)
                and isinstance(c.func, pyast.Attribute)
                and c.func.attr == "append"
                and isinstance(c.func.value, pyast.Name)
                and c.func.value.id == objs.id
                for c in pyast.walk(node)
            )
            if over or appends:
                loop = node
                break
    if loop is None or fields is None:
        return _NO_LOOP.format(var=var)
    target = pyast.unparse(loop.target)
    body = [
        pyast.unparse(stmt)
        for stmt in loop.body
        if not (
            isinstance(stmt, pyast.Expr)
            and isinstance(stmt.value, pyast.Call)
            and isinstance(stmt.value.func, pyast.Attribute)
            and stmt.value.func.attr == "append"
        )
    ] or ["pass"]
    lines = [
        "rows = list(" + var + ".objects.using(db).filter(pk__in=ids))",
        f"for {target} in rows:",
        *("    " + line for text in body for line in text.splitlines()),
        f"{var}.objects.using(db).bulk_update(rows, {pyast.unparse(fields)}, batch_size=BATCH)",
    ]
    return _indented(lines, 12)


def _batched_row_loop(source: str | None, line: int | None, var: str) -> str:
    """A loop saving rows one by one, over one batch's rows."""
    tree = _function_tree(source)
    loop = None
    if tree is not None and line is not None:
        loop = next((n for n in pyast.walk(tree) if isinstance(n, pyast.For) and n.lineno == line), None)
    if loop is None:
        return _NO_LOOP.format(var=var)
    lines = [
        f"for {pyast.unparse(loop.target)} in {var}.objects.using(db).filter(pk__in=ids):",
        *("    " + text for stmt in loop.body for text in pyast.unparse(stmt).splitlines()),
    ]
    return _indented(lines, 12)


def sql_backfill(op: OperationFacts, table: str, node: Any) -> Fix:
    """R9 for a RunSQL UPDATE/DELETE without a batch bound."""
    statement = batched_dml_sql(node)
    code = data_migration(
        "a migration of its own (atomic = False): batched backfill",
        [f"BATCH = {BATCH}", sql_backfill_function("backfill", table, statement)],
        ["migrations.RunPython(backfill, migrations.RunPython.noop),"],
        atomic=False,
        imports=("import time", ""),
    )
    steps = (
        *BACKFILL_STEPS[:2],
        f"The batches follow the primary key of {table}; if it is not `id`, change the column name.",
        BACKFILL_STEPS[2],
    )
    return Fix("Run the statement in key-range batches, one short transaction each", steps, code)


# --------------------------------------------------------------------------- SM302 reverse_sql


def reverse_of(node: Any) -> str | None:
    """SQL that undoes ``node``; '' when nothing needs undoing; None when unknown."""
    if isinstance(node, ast.VariableSetStmt) or isinstance(node, ast.ConstraintsSetStmt):
        return ""
    if isinstance(node, ast.IndexStmt) and node.idxname:
        concurrently = "CONCURRENTLY " if node.concurrent else ""
        schema_name = node.relation.schemaname if node.relation is not None else None
        schema = f"{q(schema_name)}." if schema_name else ""
        return f"DROP INDEX {concurrently}IF EXISTS {schema}{q(node.idxname)}"
    if isinstance(node, ast.CreateStmt):
        return f"DROP TABLE IF EXISTS {q(relname(node.relation))}"
    if isinstance(node, ast.ViewStmt):
        return f"DROP VIEW IF EXISTS {q(relname(node.view))}"
    if isinstance(node, ast.CreateSeqStmt):
        return f"DROP SEQUENCE IF EXISTS {q(relname(node.sequence))}"
    if isinstance(node, ast.CreateTrigStmt):
        return f"DROP TRIGGER IF EXISTS {q(node.trigname or '')} ON {q(relname(node.relation))}"
    if isinstance(node, ast.CreateFunctionStmt) and not node.replace:
        name = ".".join(q(n.sval) for n in node.funcname or ())
        kind = "PROCEDURE" if node.is_procedure else "FUNCTION"
        types = ", ".join(_deparse(p.argType) for p in node.parameters or ())
        return f"DROP {kind} IF EXISTS {name}({types})"
    if isinstance(node, ast.RenameStmt) and node.relation is not None:
        table = q(relname(node.relation))
        if node.renameType == OBJ.OBJECT_COLUMN:
            return f"ALTER TABLE {table} RENAME COLUMN {q(node.newname or '')} TO {q(node.subname or '')}"
        if node.renameType == OBJ.OBJECT_TABLE:
            return f"ALTER TABLE {q(node.newname or '')} RENAME TO {q(node.relation.relname or '')}"
        return None
    if isinstance(node, ast.AlterTableStmt) and node.objtype == OBJ.OBJECT_TABLE:
        table = q(relname(node.relation))
        undo = []
        for cmd in reversed(node.cmds or ()):
            if cmd.subtype == AT.AT_AddColumn:
                undo.append(f"DROP COLUMN IF EXISTS {q(cmd.def_.colname)}")
            elif cmd.subtype == AT.AT_AddConstraint and getattr(cmd.def_, "conname", None):
                undo.append(f"DROP CONSTRAINT IF EXISTS {q(cmd.def_.conname)}")
            elif cmd.subtype == AT.AT_SetNotNull:
                undo.append(f"ALTER COLUMN {q(cmd.name)} DROP NOT NULL")
            elif cmd.subtype == AT.AT_DropNotNull:
                undo.append(f"ALTER COLUMN {q(cmd.name)} SET NOT NULL")
            elif cmd.subtype == AT.AT_ColumnDefault and cmd.def_ is not None:
                undo.append(f"ALTER COLUMN {q(cmd.name)} DROP DEFAULT")
            elif cmd.subtype == AT.AT_ValidateConstraint:
                continue  # validating changes no data or definition
            else:
                return None
        return f"ALTER TABLE {table} {', '.join(undo)}" if undo else ""
    return None


def runsql_reverse(op: OperationFacts, nodes: Sequence[Any]) -> Fix:
    """Give RunSQL a reverse_sql: generated where the undo is mechanical."""
    undo: list[str] = []
    unknown: list[str] = []
    for node in reversed(nodes):
        sql = reverse_of(node) if node is not None else None
        if sql is None:
            unknown.append(_deparse(node) if node is not None else "?")
        elif sql:
            undo.append(sql)
    sql_code = op.kwarg("sql") or op.kwarg("_0") or "..."
    extra = {k: v for k, v in op.kwargs_code if k not in ("sql", "_0", "reverse_sql")}
    if not undo and not unknown:
        reverse = "migrations.RunSQL.noop"
    else:
        lines = [f"    {py(s)}," for s in undo]
        lines += [f"    # TODO: undo {s[:80]}" for s in unknown]
        reverse = "[\n" + "\n".join(lines) + "\n]"
    args = ", ".join(f"{k}={v}" for k, v in extra.items())
    code = f"migrations.RunSQL(\n    sql={sql_code},\n    reverse_sql={textwrap.indent(reverse, '    ').lstrip()},"
    code += f"\n    {args}," if args else ""
    code += "\n)"
    steps = [
        "Pass reverse_sql: the statements that undo the forwards SQL, in reverse order "
        "(`migrations.RunSQL.noop` when rolling back needs no change, e.g. for SET or VALIDATE).",
    ]
    if unknown:
        steps.append(
            "Write the undo for the statements marked TODO by hand, or use RunSQL.noop if leaving "
            "them in place on rollback is harmless."
        )
    return Fix("Give RunSQL a reverse_sql", tuple(steps), code)


# --------------------------------------------------------------------------- SM302 state drift


_FIELDS = {
    "int2": "models.SmallIntegerField",
    "int4": "models.IntegerField",
    "int8": "models.BigIntegerField",
    "text": "models.TextField",
    "bool": "models.BooleanField",
    "timestamptz": "models.DateTimeField",
    "date": "models.DateField",
    "time": "models.TimeField",
    "jsonb": "models.JSONField",
    "uuid": "models.UUIDField",
    "float8": "models.FloatField",
    "interval": "models.DurationField",
    "bytea": "models.BinaryField",
}


def field_for_column(coldef: Any) -> str:
    """A Django field declaring the same column type (best effort)."""
    names = [n.sval for n in coldef.typeName.names] if coldef.typeName is not None else []
    base = names[-1] if names else ""
    mods = [getattr(m.val, "ival", None) for m in coldef.typeName.typmods or ()] if coldef.typeName else []
    not_null = any(c.contype == enums.ConstrType.CONSTR_NOTNULL for c in coldef.constraints or ())
    null = "" if not_null else "null=True"
    if base == "varchar":
        args = [f"max_length={mods[0]}" if mods else "max_length=None", null]
        return f"models.CharField({', '.join(a for a in args if a)})"
    if base == "numeric" and len(mods) == 2:
        return f"models.DecimalField(max_digits={mods[0]}, decimal_places={mods[1]}{', ' + null if null else ''})"
    cls = _FIELDS.get(base)
    if cls is None:
        return f"models.Field({null})"  # no Django field for this type: the step says so
    return f"{cls}({null})"


def unmapped_types(columns: Sequence[Any]) -> list[str]:
    """Column types field_for_column can only declare as a bare models.Field."""
    out = []
    for coldef in columns:
        names = [n.sval for n in coldef.typeName.names] if coldef.typeName is not None else []
        if (names[-1] if names else "") not in _FIELDS and (names[-1] if names else "") not in (
            "varchar",
            "numeric",
        ):
            out.append(f"{coldef.colname} ({_deparse(coldef.typeName)})")
    return out


def state_operations(op: OperationFacts, table: str, columns: Sequence[Any]) -> Fix:
    """Tell Django's state about columns the SQL adds (RunSQL state_operations)."""
    app, model = model_for_table(table, op.app_label)
    if op.sql_model:
        app, model = op.app_label, op.sql_model
    state_ops = [
        f"        migrations.AddField({py(model)}, {py(c.colname)}, {field_for_column(c)})," for c in columns
    ]
    sql_code = op.kwarg("sql") or "..."
    reverse = op.kwarg("reverse_sql")
    lines = ["migrations.RunSQL(", f"    sql={sql_code},"]
    if reverse is not None:
        lines.append(f"    reverse_sql={reverse},")
    lines += ["    state_operations=[", *state_ops, "    ],", ")"]
    steps: tuple[str, ...] = (
        "Declare the columns on the model, then pass the matching AddField operations as "
        "state_operations (or wrap the RunSQL in SeparateDatabaseAndState), so that the "
        "migration state and the database agree.",
        "Run `makemigrations --check` afterwards: it must find no changes.",
    )
    if app != op.app_label:
        steps = (*steps, f"The table belongs to app {app!r}: put the field on that app's model.")
    unmapped = unmapped_types(columns)
    if unmapped:
        steps = (
            *steps,
            "No built-in Django field matches " + ", ".join(unmapped) + ": replace models.Field(...) "
            "with the field class (or a custom field whose db_type returns that type).",
        )
    return Fix("Record the schema change in the migration state", steps, "\n".join(lines))


# --------------------------------------------------------------------------- SM302 opaque SQL


def opaque_sql(op: OperationFacts, original: str, inner: Sequence[str], dynamic: bool) -> Fix:
    steps = [
        "Write the schema changes as plain statements in RunSQL (one per statement), so every "
        "lock and rewrite is checked and visible in review.",
        "For conditional DDL use PostgreSQL's own guards instead of a DO block: ADD COLUMN IF NOT "
        "EXISTS, CREATE INDEX IF NOT EXISTS, DROP ... IF EXISTS, CREATE OR REPLACE.",
    ]
    if dynamic:
        steps.append(
            "Dynamic SQL (EXECUTE) cannot be checked at all: list the statements it builds explicitly."
        )
    steps.append(
        "If the code must stay, review its locks by hand (run it against a copy of production and "
        "watch pg_locks) and acknowledge it with a reasoned ignore comment."
    )
    if inner:
        code = migration(
            "the statements, written out so that each one is checked",
            [f"migrations.RunSQL({py(s)}, reverse_sql=...)," for s in inner],
        )
    else:
        acknowledged = f"-- safe_migrations: ignore SM302 <what it changes, and why its locks are acceptable>\n{original}"
        code = f"migrations.RunSQL(\n    {py(acknowledged)},\n    reverse_sql=...,\n)"
    return Fix("Write the DDL as plain SQL statements the linter can check", tuple(steps), code)


# --------------------------------------------------------------------------- SM303 split


def split_schema_and_data(
    before: Sequence[OperationFacts],
    after: Sequence[OperationFacts],
    data_code: str,
    data_steps: Sequence[str] = (),
    after_code: str | None = None,
) -> Fix:
    """Schema migration -> data migration (atomic = False, R9) -> follow-up schema migration."""
    parts = []
    if before:
        entries, imports = ops_code(before)
        parts.append(
            migration(
                "migration 1 (atomic): the schema change",
                [LOCK_TIMEOUT_ATOMIC, *entries],
                imports=imports,
            )
        )
    parts.append(data_code)
    if after:
        entries, imports = ops_code(after)
        parts.append(
            migration(
                f"migration {len(parts) + 1} (atomic): the schema change that needs the data",
                [LOCK_TIMEOUT_ATOMIC, *entries],
                imports=imports,
            )
        )
    if after_code:
        parts.append(after_code)
    steps = [
        "Split the migration: the schema change in one migration, its locks released at COMMIT "
        "after a few milliseconds.",
        "The data step in a migration of its own with `atomic = False`, in batches of a few "
        "thousand rows, each in its own transaction (no DDL lock is held meanwhile).",
        *data_steps,
    ]
    if after or after_code:
        steps.append("The schema change that depends on the data in a third migration.")
    return Fix(
        "Split schema and data: schema migration, batched data migration, schema migration",
        tuple(steps),
        "\n\n".join(parts),
    )


def _reverse_code(op: OperationFacts) -> str:
    facts = op.runpython
    if facts is None or facts.reverse_is_noop or facts.reverse_code is None:
        return "migrations.RunPython.noop"
    return usable_name(facts.reverse_code) or "backwards"


def usable_name(dotted: str) -> str | None:
    """The callable's name when code can refer to it; None for a lambda, a functools.partial
    and other callables without one (their dotted name holds ``<lambda>`` or a repr)."""
    last = dotted.rsplit(".", 1)[-1]
    return last if last.isidentifier() and not keyword.iskeyword(last) else None


def _lambdas(source: str | None) -> list[pyast.Lambda]:
    """The lambdas in the source inspect gives for a lambda (its whole line or lines)."""
    if not source:
        return []
    text = textwrap.dedent(source).strip().rstrip(",")
    for candidate in (text, f"({text})", f"({text}\n)"):
        try:
            tree = pyast.parse(candidate)
        except SyntaxError:
            continue
        found = [n for n in pyast.walk(tree) if isinstance(n, pyast.Lambda)]
        return sorted(found, key=lambda n: (n.lineno, n.col_offset))
    return []


def _def_from_lambda(name: str, node: pyast.Lambda | None, what: str) -> str:
    if node is None:
        return (
            f"def {name}(apps, schema_editor):\n"
            f"    # the {what} code has no name to refer to (a lambda or a functools.partial whose\n"
            "    # source could not be read): move its body here\n"
            f'    raise NotImplementedError("move the {what} code of the RunPython here")\n'
        )
    args = pyast.unparse(node.args) or "apps, schema_editor"
    return f"def {name}({args}):\n    {pyast.unparse(node.body)}\n"


def named_functions(op: OperationFacts) -> tuple[str, str, str | None, str | None]:
    """(forwards name, reverse code, forwards def, reverse def): a callable without a usable
    name (a lambda, a partial) becomes a function named forwards or backwards, whose
    definition the fix must carry, with the lambda's body when its source can be read."""
    facts = op.runpython
    if facts is None:
        return "forwards", "migrations.RunPython.noop", None, None
    lambdas = _lambdas(facts.source)
    forwards, forwards_def = usable_name(facts.code), None
    if forwards is None:
        forwards = "forwards"
        forwards_def = _def_from_lambda(forwards, lambdas[0] if lambdas else None, "forwards")
    reverse, reverse_def = _reverse_code(op), None
    if reverse == "backwards" and facts.reverse_code is not None and not usable_name(facts.reverse_code):
        # inspect gives a lambda's whole line: RunPython(lambda ..., lambda ...) holds both
        both = forwards_def is not None and len(lambdas) == 2
        reverse_def = _def_from_lambda(reverse, lambdas[1] if both else None, "reverse")
    return forwards, reverse, forwards_def, reverse_def


def runpython_as_own_migration(op: OperationFacts) -> str:
    return data_migration(
        "a migration of its own (atomic = False): the data step",
        [f"# {op.runpython.code.rsplit('.', 1)[-1] if op.runpython else 'forwards'}: process the rows in "
         "batches, each in its own transaction.atomic() (see unbatched-backfill)"],
        ops_code([op])[0],
        atomic=False,
    )  # fmt: skip


# --------------------------------------------------------------------------- SM305 apps.get_model


def historical_models(op: OperationFacts, imports: Sequence[tuple[str | None, Sequence[str], str]]) -> Fix:
    """Replace imported model classes with the historical models Django passes in."""
    fn = op.runpython.code.rsplit(".", 1)[-1] if op.runpython else "forwards"
    lines = [f"def {fn}(apps, schema_editor):"]
    seen: set[str] = set()
    for app, names, kind in imports:
        label = app or op.app_label
        if kind == "get_user_model":
            lines.append("    User = apps.get_model(settings.AUTH_USER_MODEL)  # the historical user model")
            continue
        for name in names or ("Model",):
            if name in seen:
                continue
            seen.add(name)
            lines.append(f"    {name} = apps.get_model({py(label)}, {py(name)})")
    lines.append("    ...  # the same code, using these historical models")
    if any(kind == "get_user_model" for _, _, kind in imports):
        lines = ["from django.conf import settings", "", "", *lines]
    steps = (
        "Remove the import of the models module (inside the function and at the top of the migration file).",
        "Get every model from the `apps` argument: apps.get_model(app_label, model_name) returns "
        "the model as it is at this point of the migration history, whatever the code says later.",
        "Custom model methods and managers are not available on historical models: copy the "
        "logic you need into the migration.",
    )
    return Fix("Use apps.get_model() instead of importing models", steps, "\n".join(lines))


# --------------------------------------------------------------------------- SM306 transactions


def without_transaction_control(op: OperationFacts, segments: Sequence[Sequence[str]]) -> Fix:
    """One migration per segment the user tried to commit separately."""
    parts = []
    for i, segment in enumerate(s for s in segments if s):
        sql = ";\n".join(segment)
        parts.append(
            migration(
                f"migration {i + 1}: one transaction, opened and committed by Django",
                [f"migrations.RunSQL({py(sql)}, reverse_sql=...),"],
            )
        )
    steps = (
        "Remove BEGIN, COMMIT, ROLLBACK, SAVEPOINT and SET TRANSACTION from the SQL: Django opens "
        "and commits the migration's transaction itself.",
        "Where parts must commit separately, give each part a migration of its own (or set "
        "`atomic = False` and keep one statement per RunSQL).",
    )
    return Fix("Let Django control the transaction", steps, "\n\n".join(parts))


# --------------------------------------------------------------------------- SM307 idempotent DDL


def idempotent(node: Any) -> str | None:
    """``node`` rewritten with IF [NOT] EXISTS / OR REPLACE, None when PostgreSQL has no such form."""
    clone = copy.deepcopy(node)
    if isinstance(clone, (ast.IndexStmt, ast.CreateStmt, ast.CreateSeqStmt, ast.CreateSchemaStmt)):
        clone.if_not_exists = True
    elif isinstance(clone, ast.CreateExtensionStmt):
        clone.if_not_exists = True
    elif isinstance(clone, ast.DropStmt):
        clone.missing_ok = True
    elif isinstance(clone, (ast.CreateFunctionStmt, ast.CreateTrigStmt, ast.ViewStmt)):
        clone.replace = True
    elif isinstance(clone, ast.AlterTableStmt):
        for cmd in clone.cmds or ():
            if cmd.subtype in (AT.AT_AddColumn, AT.AT_DropColumn, AT.AT_DropConstraint):
                cmd.missing_ok = True
            elif cmd.subtype in (AT.AT_AddConstraint, AT.AT_AddIndexConstraint):
                return None
    elif isinstance(clone, ast.AlterEnumStmt) and clone.newVal and not clone.oldVal:
        clone.skipIfNewValExists = True
    else:
        return None
    return _deparse(clone)


def one_operation_per_migration(
    ops: Sequence[OperationFacts], rewritten: dict[int, str], prelude: Sequence[OperationFacts] = ()
) -> Fix:
    """Each fallible step in its own atomic = False migration; idempotent SQL where possible."""
    parts = []
    first, _ = ops_code(prelude)
    for i, op in enumerate(ops):
        code = rewritten.get(op.position)
        entries, imports = ops_code([op])
        body = [f"migrations.RunSQL({py(code)}, reverse_sql=...),"] if code else entries
        parts.append(
            migration(f"migration {i + 1} (atomic = False)", [*first, *body], atomic=False, imports=imports)
        )
    steps = (
        "Keep one operation that can fail per `atomic = False` migration: Django records the "
        "migration as applied only at the end, so a failure re-runs every step on retry.",
        "Write hand-made DDL with IF NOT EXISTS / IF EXISTS so that a retry skips what already happened.",
        "Before retrying a failed CREATE INDEX CONCURRENTLY, drop the INVALID index it left "
        "(SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid; DROP INDEX CONCURRENTLY "
        "IF EXISTS ...): IF NOT EXISTS would keep the broken index.",
    )
    return Fix("Make every step safe to re-run", steps, "\n\n".join(parts))


def robust_statement(original: str, rewritten: str | None, index_name: str | None) -> Fix:
    """IF [NOT] EXISTS for one hand-written concurrent index statement."""
    lines = []
    if index_name and rewritten and "CREATE" in rewritten.upper():
        drop = f"DROP INDEX CONCURRENTLY IF EXISTS {q(index_name)}"
        lines = [rebuild_index(rewritten, drop)]
    elif rewritten:
        lines = [f"migrations.RunSQL({py(rewritten)}, reverse_sql=...),"]
    steps = (
        "Use IF NOT EXISTS / IF EXISTS so that a retry after a partial run does not fail on what "
        "already happened.",
        "A failed CREATE INDEX CONCURRENTLY leaves an INVALID index under the same name: drop it "
        "(DROP INDEX CONCURRENTLY IF EXISTS) before the retry, and check pg_index.indisvalid "
        "afterwards.",
    )
    code = migration("the statement, safe to re-run", lines, atomic=False) if lines else original
    return Fix("Make the concurrent index statement safe to re-run", steps, code)


def class_name(model: str) -> str:
    return _class_name(model)
