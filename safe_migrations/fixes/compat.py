"""Recipes for the compatibility rules (SM202-SM211): RULES.md R1-R3 and friends, as Django code."""

from __future__ import annotations

import ast as pyast

from ..facts import FieldFacts, OperationFacts
from ..findings import Fix
from . import engines
from .recipes import LOCK_TIMEOUT_ATOMIC, bare, migration, op_call, py, q, rebuild_index

POST_DEPLOY = "post-deploy"


def _qn(name: str) -> str:
    """A possibly schema-qualified relation name, quoted part by part."""
    return ".".join(q(part) for part in name.split("."))


def _model_code(op: OperationFacts) -> str:
    return op.kwarg("model_name") or op.kwarg("name") or py(op.model_name or "model")


def _literal(code: str | None) -> bool:
    if code is None:
        return False
    try:
        pyast.literal_eval(code)
    except (ValueError, SyntaxError):
        return False
    return True


def _state_split(state_ops: list[str]) -> list[str]:
    return [
        "migrations.SeparateDatabaseAndState(",
        "    state_operations=[",
        *(f"        {s}" if s.startswith("#") else f"        {s}," for s in state_ops),
        "    ],",
        "    database_operations=[],",
        "),",
    ]


def _runsql_state_calls(op: OperationFacts) -> list[tuple[str, str, dict[str, str]]]:
    """The op's own state_operations as (code, class name, keyword arguments as code)."""
    code = op.kwarg("state_operations")
    if not code:
        return []
    try:
        tree = pyast.parse(code, mode="eval")
    except SyntaxError:
        return []
    body = tree.body
    if not isinstance(body, (pyast.List, pyast.Tuple)):
        return []
    calls = []
    for element in body.elts:
        text = " ".join(pyast.unparse(element).split())
        kind, kwargs = "", {}
        if isinstance(element, pyast.Call):
            func = element.func
            kind = func.attr if isinstance(func, pyast.Attribute) else getattr(func, "id", "")
            kwargs = {str(k.arg): pyast.unparse(k.value) for k in element.keywords}
        calls.append((text, kind, kwargs))
    return calls


def _runsql_state_ops(op: OperationFacts) -> list[str]:
    return [text for text, _, _ in _runsql_state_calls(op)]


# --- SM202 drop-table (R1 with DeleteModel) ---------------------------------------------


def drop_table(op: OperationFacts, table: str, vendor: str = engines.POSTGRESQL) -> Fix:
    """R1 for a model: remove it from the state in release N, drop the table in N+1."""
    if op.kind in ("DeleteModel", "RemoveField"):
        state_ops = [op_call(op)]
    else:
        state_ops = [text for text, kind, _ in _runsql_state_calls(op) if kind == "DeleteModel"] or [
            f"# the model whose db_table is {py(table)}",
            "migrations.DeleteModel(name=...)",
        ]
    through = op.kind == "RemoveField"
    code = "\n\n".join(
        [
            migration(
                "release N: remove the model from the state; the table stays",
                _state_split(state_ops),
            ),
            migration(
                "release N+1, after every old pod is gone: drop the table",
                engines.with_lock_timeout(
                    vendor,
                    [
                        f"migrations.RunSQL({py(_drop_table_sql(vendor, table))}, reverse_sql=migrations.RunSQL.noop),",
                    ],
                )
                if vendor != engines.POSTGRESQL
                else [
                    LOCK_TIMEOUT_ATOMIC,
                    f"migrations.RunSQL({py(f'DROP TABLE IF EXISTS {_qn(table)}')}, reverse_sql=migrations.RunSQL.noop),",
                ],
                phase=POST_DEPLOY,
            ),
        ]
    )
    what = "the many-to-many field" if through else "the model"
    steps = [
        f"Remove every use of {what} from the code (queries, admin, serializers, related accessors).",
        f"Release N: remove {what} from the migration state only (SeparateDatabaseAndState with "
        "empty database_operations): the table stays, so old pods keep working while they drain.",
    ]
    if not through:
        steps.append(
            "If other models still have ForeignKeys to it, remove those fields first (see drop-column). "
            "If the model itself has ForeignKeys, set db_constraint=False on them in release N: their "
            "constraints stay in the database, and the new code, which no longer knows the model, "
            "would fail to delete parent rows that these rows still reference."
        )
    if vendor == engines.POSTGRESQL:
        steps.append(
            "Release N+1, once no pod of the old release runs: DROP TABLE IF EXISTS (no CASCADE, so it "
            "fails loudly if a view or foreign key still depends on it) with a short lock_timeout. "
            "Back up or check the table is no longer written first: the data is gone for good."
        )
    else:
        steps.append(
            f"Release N+1, once no pod of the old release runs: DROP TABLE "
            f"{engines.lock_timeout_phrase(vendor)}. Back up or check the table is no longer written "
            "first: the data is gone for good."
        )
    return Fix("Drop the table in two releases: state first, database later", tuple(steps), code)


def _drop_table_sql(vendor: str, table: str) -> str:
    return f"DROP TABLE {engines.drop_if_exists(vendor)}{engines.quote(vendor, table)}"


# --- SM203 rename-column (R2) -----------------------------------------------------------


_PHYSICAL_RENAME = (
    "If the column itself must get the new name, expand and contract over several releases: add "
    "the new column (null=True) with a trigger copying writes from the old one, backfill in "
    "batches, switch reads and writes to the new column, then remove the old one (drop-column)."
)


def rename_column(op: OperationFacts, table: str, old: str, new: str) -> Fix:
    """R2: rename the Python attribute only and keep the database column name."""
    field = op.new_field
    model = _model_code(op)
    if op.kind == "RenameField" and field is not None:
        new_name = op.kwarg("new_name") or py(field.name)
        state_ops = [
            op_call(op),
            f"migrations.AlterField(model_name={model}, name={new_name}, "
            f"field={field.with_kwargs(db_column=py(old))})",
        ]
        code = migration(
            "one migration, no SQL: rename the attribute, keep the column", _state_split(state_ops)
        )
        steps = [
            f"Rename only the attribute: RenameField plus AlterField(db_column={old!r}) inside "
            "SeparateDatabaseAndState with no database operation. Old and new code both use the "
            f"column {old!r}; no lock is taken.",
            f"Declare the field in the model with db_column={old!r}. (Letting makemigrations write "
            "RenameField and AlterField as two plain operations runs RENAME COLUMN twice.)",
            _PHYSICAL_RENAME,
        ]
        return Fix("Rename the field in the state only and keep the column name", tuple(steps), code)
    if op.kind == "AlterField" and field is not None and op.old_field is not None:
        kept = dict(op.old_field.kwargs_code).get("db_column")  # None: the column was the default name
        code = migration(
            "keep the column name: no SQL", [op_call(op, field=field.with_kwargs(db_column=kept)) + ","]
        )
        steps = [
            f"Keep the column name {old!r}: leave db_column as it was. The attribute name and the "
            "column name are independent, so the code needs no physical rename.",
            _PHYSICAL_RENAME,
        ]
        return Fix("Keep the database column name", tuple(steps), code)
    if op.kind == "RenameModel":
        code = "\n".join(
            [
                "# the many-to-many table as an explicit through model that keeps its column names",
                "class Through(models.Model):  # name it after the ManyToManyField",
                f"    target = models.ForeignKey(..., models.CASCADE, db_column={py(old)})",
                "    # ... the ForeignKey to the owning model, unchanged",
                "",
                "    class Meta:",
                f"        db_table = {py(table.rsplit('.', 1)[-1])}",
                "# ManyToManyField(..., through=Through); switch to it with SeparateDatabaseAndState (no SQL)",
            ]
        )
        steps = [
            f"A ManyToManyField pointing at the renamed model names its column after the model, so "
            f"Django renames {table}.{old} to {new}. Declare the many-to-many table as an explicit "
            f"through model whose ForeignKey keeps db_column={old!r}, switching to it in the state only "
            "(SeparateDatabaseAndState), before renaming the model.",
        ]
        return Fix("Keep the many-to-many column name with an explicit through model", tuple(steps), code)
    renames = [(text, kwargs) for text, kind, kwargs in _runsql_state_calls(op) if kind == "RenameField"]
    model = renames[0][1].get("model_name", "...") if renames else "..."
    field_name = renames[0][1].get("new_name", py(new)) if renames else py(new)
    ops = [text for text, _ in renames] or [
        f"migrations.RenameField(model_name=..., old_name={py(old)}, new_name={py(new)})"
    ]
    ops += [
        "# models.Field stands for the field as the model declares it, with db_column added",
        f"migrations.AlterField(model_name={model}, name={field_name}, field=models.Field(db_column={py(old)}))",
    ]
    code = migration("one migration, no SQL: keep the column name", _state_split(ops))
    steps = [
        f"Do not rename {table}.{old} while code using it runs: rename the model attribute only and "
        f"keep the column with db_column={old!r} (SeparateDatabaseAndState, no SQL).",
        _PHYSICAL_RENAME,
    ]
    return Fix("Keep the database column name", tuple(steps), code)


# --- SM204 rename-table (R3) ------------------------------------------------------------


def _view_swap_portable(pairs: list[tuple[str, str]], state_ops: list[str], vendor: str) -> str:
    """The view swap with one statement per list item, quoted for ``vendor``."""

    def qv(name: str) -> str:
        return engines.quote(vendor, name)

    # MySQL's own RENAME TABLE; SQLite and Oracle take ALTER TABLE ... RENAME TO.
    def rename(old: str, new: str) -> str:
        if vendor == "mysql":
            return f"RENAME TABLE {qv(old)} TO {qv(new)}"
        return f"ALTER TABLE {qv(old)} RENAME TO {qv(new)}"

    exists = engines.drop_if_exists(vendor)
    forwards: list[str] = []
    backwards: list[str] = []
    drop: list[str] = []
    recreate: list[str] = []
    for old, new in pairs:
        view = f"CREATE VIEW {qv(old)} AS SELECT * FROM {qv(new)}"
        forwards += [rename(old, new), view]
        backwards += [f"DROP VIEW {exists}{qv(old)}", rename(new, old)]
        drop.append(f"DROP VIEW {exists}{qv(old)}")
        recreate.append(view)
    return "\n\n".join(
        [
            migration(
                "release N: rename, and leave a view under the old name for the old pods",
                engines.with_lock_timeout(
                    vendor,
                    [
                        "migrations.SeparateDatabaseAndState(",
                        "    database_operations=[migrations.RunSQL(",
                        f"        {forwards!r},",
                        f"        reverse_sql={backwards!r},",
                        "    )],",
                        f"    state_operations=[{', '.join(state_ops)}],",
                        "),",
                    ],
                ),
            ),
            migration(
                "release N+1, after every old pod is gone: drop the view",
                engines.with_lock_timeout(
                    vendor, [f"migrations.RunSQL({drop!r},", f"    reverse_sql={recreate!r}),"]
                ),
                phase=POST_DEPLOY,
            ),
        ]
    )


def _view_swap(pairs: list[tuple[str, str]], state_ops: list[str]) -> str:
    forwards = "; ".join(
        f"ALTER TABLE {_qn(old)} RENAME TO {_qn(new)}; CREATE VIEW {_qn(old)} AS SELECT * FROM {_qn(new)}"
        for old, new in pairs
    )
    backwards = "; ".join(
        f"DROP VIEW IF EXISTS {_qn(old)}; ALTER TABLE {_qn(new)} RENAME TO {_qn(old)}" for old, new in pairs
    )
    drop = "; ".join(f"DROP VIEW IF EXISTS {_qn(old)}" for old, _ in pairs)
    recreate = "; ".join(f"CREATE VIEW {_qn(old)} AS SELECT * FROM {_qn(new)}" for old, new in pairs)
    return "\n\n".join(
        [
            migration(
                "release N: rename, and leave a view under the old name for the old pods",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    "migrations.SeparateDatabaseAndState(",
                    "    database_operations=[migrations.RunSQL(",
                    f"        {py(forwards)},",
                    f"        reverse_sql={py(backwards)},",
                    "    )],",
                    f"    state_operations=[{', '.join(state_ops)}],",
                    "),",
                ],
            ),
            migration(
                "release N+1, after every old pod is gone: drop the view",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    f"migrations.RunSQL({py(drop)},",
                    f"    reverse_sql={py(recreate)}),",
                ],
                phase=POST_DEPLOY,
            ),
        ]
    )


_VIEW_STEP = (
    "If the table itself must get the new name: rename it and create a view with the old name in "
    "the same transaction (a simple view accepts the old pods' SELECT, INSERT, UPDATE and DELETE), "
    "then drop the view in a post-deploy migration of the next release."
)


_VIEW_CAVEATS = {
    "sqlite": "On SQLite a view is read-only: it answers the old pods' SELECTs, but their INSERT, "
    "UPDATE and DELETE fail until they are gone. Keeping the table name is the safe way there.",
    "mysql": "On MySQL and MariaDB the simple view accepts the old pods' SELECT, INSERT, UPDATE and "
    "DELETE, but each DDL statement commits on its own: between the RENAME and the CREATE VIEW the old "
    "name briefly does not exist.",
    "*": "Each DDL statement may commit on its own on this engine: between the rename and the CREATE "
    "VIEW the old name briefly does not exist.",
}


def rename_table(
    op: OperationFacts,
    old: str,
    new: str,
    *,
    through: bool = False,
    through_columns: bool = False,
    others: list[tuple[str, str]] | None = None,
    vendor: str = engines.POSTGRESQL,
) -> Fix:
    """R3: keep the table name in the database, or rename behind a view."""
    if op.kind == "RenameModel":
        new_name = op.kwarg("new_name") or "..."
        table = op.model_before.db_table if op.model_before else old
        state_ops = [op_call(op), f"migrations.AlterModelTable(name={new_name}, table={py(table)})"]
        code = migration("one migration, no SQL: rename the model, keep its table", _state_split(state_ops))
        steps = [
            f"Rename the model in the state only and pin its table: RenameModel plus "
            f"AlterModelTable(table={table!r}) in SeparateDatabaseAndState with no database "
            f"operation, and Meta.db_table = {table!r} on the model. Old and new code use the same table.",
        ]
        if through_columns:
            steps.append(
                "Many-to-many tables pointing at the model name their column after the model "
                "(e.g. tag_id becomes label_id): keep that column too, by giving the ManyToManyField an "
                "explicit through model whose ForeignKey keeps db_column set to the old column name."
            )
        steps.append(_VIEW_STEP)
        return Fix("Rename the model in the state only and keep the table name", tuple(steps), code)
    if op.kind == "RenameField" and through and op.new_field is not None:
        model = _model_code(op)
        new_name = op.kwarg("new_name") or py(op.new_field.name)
        state_ops = [
            op_call(op),
            f"migrations.AlterField(model_name={model}, name={new_name}, "
            f"field={op.new_field.with_kwargs(db_table=py(old))})",
        ]
        code = migration(
            "one migration, no SQL: rename the field, keep its many-to-many table", _state_split(state_ops)
        )
        steps = [
            f"Rename the ManyToManyField in the state only and pin its table with db_table={old!r} "
            "(SeparateDatabaseAndState, no SQL): old and new code use the same table.",
        ]
        return Fix("Rename the field in the state only and keep its table", tuple(steps), code)
    if op.kind == "AlterModelTable":
        state_ops = [op_call(op)]
    else:
        state_ops = _runsql_state_ops(op) or [
            f"migrations.AlterModelTable(name=..., table={py(new.rsplit('.', 1)[-1])})"
        ]
    steps = [
        f"Keep the table name {old!r} (leave Meta.db_table as it was) unless the physical name "
        "really has to change.",
        _VIEW_STEP,
    ]
    if others:
        steps.append(
            "The many-to-many tables named after the table are renamed too: the code renames each of "
            "them behind a view of its own."
        )
    pairs = [(old, new), *(others or [])]
    if vendor == engines.POSTGRESQL:
        code = _view_swap(pairs, state_ops)
    else:
        code = _view_swap_portable(pairs, state_ops, vendor)
        steps.append(_VIEW_CAVEATS.get(vendor, _VIEW_CAVEATS["*"]))
    return Fix("Rename the table behind a view with the old name", tuple(steps), code)


# --- SM206 add-column-callable-default ----------------------------------------------------


_TIME_TYPES = ("DateTimeField", "DateField", "TimeField")


def is_time(field: FieldFacts) -> bool:
    """A date/time field: one value per row computed now would be no truer than a single one."""
    return field.internal_type in _TIME_TYPES


def _callable_module(field: FieldFacts) -> str | None:
    code = field.default_code or ""
    return code.rsplit(".", 1)[0] if field.default_callable and "." in code else None


def callable_default(
    op: OperationFacts,
    field: FieldFacts,
    table: str,
    column: str,
    django_version: tuple[int, int],
    vendor: str = engines.POSTGRESQL,
) -> Fix:
    """Nullable first, per-row backfill, then unique (R7) and NOT NULL (R5); or db_default=Now().

    On other engines (SM205 judges every backend) the unique and NOT NULL steps are Django's
    own AlterField: the PostgreSQL-only ways around their locks do not apply there."""
    model = _model_code(op)
    name = op.kwarg("name") or py(field.name)
    unique = field.unique or field.primary_key
    postgres = vendor == engines.POSTGRESQL
    if postgres and django_version >= (5, 0) and not unique and field.internal_type == "DateTimeField":
        code = migration(
            "one migration: the database computes the value and keeps the default",
            [
                f"migrations.AddField(model_name={model}, name={name}, "
                f"field={field.with_kwargs(default=None, db_default='models.functions.Now()')}),"
            ],
        )
        steps = [
            "Declare the field with db_default=Now() instead of a Python callable: the DEFAULT stays "
            "in the database, so INSERTs from old code that omit the column get the current time.",
            "Now() is STATEMENT_TIMESTAMP(), a stable function: PostgreSQL 11+ adds the column "
            "without rewriting the table.",
            "Existing rows all get the time of the migration either way; backfill them from a better "
            "source (another column, an audit log) if one exists, or add the column with null=True "
            "and leave them NULL.",
        ]
        return Fix("Let the database fill the timestamp with db_default=Now()", tuple(steps), code)
    module = _callable_module(field)
    nullable = field.with_kwargs(
        null="True", default=None, unique=None, primary_key=None, auto_now=None, auto_now_add=None
    )
    with_default = field.with_kwargs(null="True", unique=None, primary_key=None)
    parts = [
        migration(
            "release N, migration 1: the column, nullable and without a database default (instant)",
            [
                f"migrations.AddField(model_name={model}, name={name}, field={nullable}),",
                "# no SQL: the Python default only makes the new code fill the column",
                f"migrations.AlterField(model_name={model}, name={name}, field={with_default}),",
            ],
            imports=(f"import {module}",) if module else (),
        )
    ]
    steps = [
        "Add the column with null=True and no default: a brief catalogue change, no value written.",
        "Give the field its default in the state (no SQL): the new code fills it on insert.",
    ]
    if is_time(field) and not unique:
        steps.append(
            "Leave the existing rows NULL (their true time is unknown) or backfill them in batches "
            "from a better source, such as another column."
        )
    else:
        expr = f"{field.default_code}()" if field.default_callable else "django.utils.timezone.now()"
        if not field.default_callable:
            module = "django.utils.timezone"
        model_class = next((m.name for m in (op.model_after, op.model_before) if m is not None), "Model")
        function = f"backfill_{field.name}"
        attr = field.name
        backfill = [
            f"def {function}(apps, schema_editor):",
            f"    {model_class} = apps.get_model({py(op.app_label)}, {py(model_class)})",
            "    db = schema_editor.connection.alias",
            "    while True:",
            "        with transaction.atomic(using=db):  # one short transaction per batch",
            f"            rows = list({model_class}.objects.using(db).filter({attr}__isnull=True).order_by('pk')[:1000])",
            "            if not rows:",
            "                break",
            "            for row in rows:",
            f"                row.{attr} = {expr}  # one value per row",
            # the slice bounds each batch; batch_size says so to readers (and to unbatched-backfill)
            f"            {model_class}.objects.using(db).bulk_update(rows, [{py(attr)}], batch_size=1000)",
            "        time.sleep(0.05)  # let replicas and autovacuum keep up",
        ]
        imports = (
            "import time",
            *((f"import {module}",) if module else ()),
            "from django.db import transaction",
        )
        parts.append(
            migration(
                "after the deploy, migration 2 (atomic = False): one value per existing row, in batches",
                [f"migrations.RunPython({function}, migrations.RunPython.noop),"],
                atomic=False,
                # Until then the old code inserts rows without the column: the backfill must
                # come once the new code, which fills it, serves every request.
                phase=POST_DEPLOY,
                imports=(*imports, "", "", *backfill),
            )
        )
        steps.append(
            "Once the new code, which fills the column, serves every request, backfill the existing "
            f"rows in batches, calling {expr} once per row, in an atomic = False migration marked "
            'safe_migrations_phase = "post-deploy".'
        )
    final_state = field.with_kwargs(null="True", primary_key=None, unique="True")
    if unique and not postgres:
        parts.append(
            migration(
                "migration 3, once every row has its own value: the unique constraint",
                [f"migrations.AlterField(model_name={model}, name={name}, field={final_state}),"],
                imports=(f"import {module}",) if module else (),
                phase=POST_DEPLOY,
            )
        )
        steps.append(
            "Then make it unique with an AlterField once every row has its own value (Django builds "
            "the unique index the way this database does; on SQLite by rebuilding the table)."
        )
    elif unique:
        index = f"{bare(table)}_{column}_uniq"[:63]
        create = f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {q(index)} ON {_qn(table)} ({q(column)})"
        attach = f"ALTER TABLE {_qn(table)} ADD CONSTRAINT {q(index)} UNIQUE USING INDEX {q(index)}"
        parts += [
            migration(
                "migration 3 (atomic = False): the unique index, built without blocking writes",
                [
                    rebuild_index(create, f"DROP INDEX CONCURRENTLY IF EXISTS {q(index)}"),
                ],
                atomic=False,
                phase=POST_DEPLOY,
            ),
            migration(
                "migration 4: attach it as the constraint (brief ACCESS EXCLUSIVE)",
                [
                    LOCK_TIMEOUT_ATOMIC,
                    "migrations.SeparateDatabaseAndState(",
                    f"    database_operations=[migrations.RunSQL({py(attach)},",
                    f"        reverse_sql={py(f'ALTER TABLE {_qn(table)} DROP CONSTRAINT {q(index)}')})],",
                    f"    state_operations=[migrations.AlterField(model_name={model}, name={name}, "
                    f"field={final_state})],",
                    "),",
                ],
                imports=(f"import {module}",) if module else (),
                phase=POST_DEPLOY,
            ),
        ]
        steps.append(
            "Then make it unique without a long lock: CREATE UNIQUE INDEX CONCURRENTLY, and attach the "
            "index as the constraint (see add-unique-constraint)."
        )
        if field.primary_key:
            steps.append(
                "For a new primary key, promote the unique index with ADD PRIMARY KEY USING INDEX once "
                "the column is NOT NULL (see add-primary-key)."
            )
    if not field.null:
        steps.append(
            "Finally make it NOT NULL with the set-not-null recipe (CHECK NOT VALID, VALIDATE, SET NOT NULL)."
            if postgres
            else "Finally make it NOT NULL with an AlterField (null=False) once no row is NULL."
        )
    if postgres and django_version >= (5, 0) and field.internal_type == "UUIDField":
        steps.append(
            "Alternative: db_default=RandomUUID() (django.contrib.postgres.functions) gives each row "
            "its own value, but gen_random_uuid() is volatile: PostgreSQL rewrites the whole table "
            "under ACCESS EXCLUSIVE (see add-column-volatile-default); before PostgreSQL 13 it needs "
            "the pgcrypto extension."
        )
    title = (
        "Add the column nullable; only new rows get the default"
        if is_time(field) and not unique
        else "Add the column nullable, then fill one value per row"
    )
    return Fix(title, tuple(steps), "\n\n".join(parts))


# --- SM207 drop-not-null ----------------------------------------------------------------------


def drop_not_null(op: OperationFacts, table: str, column: str, django_version: tuple[int, int]) -> Fix:
    statement = (op_call(op) if op.kwargs_code else f"migrations.{op.kind}(...)") + ","
    parts = []
    steps: list[str] = []
    old = op.old_field
    if django_version >= (5, 0) and op.kind == "AlterField" and old is not None and not old.has_db_default:
        value = old.default_code if old.has_default and not old.default_callable else None
        if value is not None:
            keep = old.with_kwargs(db_default=value)
            parts.append(
                migration(
                    "if writers only need to omit the value: keep NOT NULL, let the database fill it",
                    [LOCK_TIMEOUT_ATOMIC, op_call(op, field=keep) + ","],
                )
            )
            steps.append(
                f"If the goal is only that writers may omit {column}, keep it NOT NULL and give it "
                f"db_default={value}: the DEFAULT is catalogue only and readers never see NULL."
            )
    parts.append(
        migration(
            "if NULL is really needed: after NULL-tolerant readers are deployed",
            [LOCK_TIMEOUT_ATOMIC, statement],
        )
    )
    steps += [
        f"Otherwise deploy code that reads {table}.{column} and copes with NULL before any code or job "
        "writes NULL.",
        "Keep the brief ACCESS EXCLUSIVE from queueing behind long transactions with a short lock_timeout.",
    ]
    return Fix("Ship NULL-tolerant readers before NULL writers", tuple(steps), "\n\n".join(parts))


# --- SM208 column-default-change ------------------------------------------------------------


def default_change(op: OperationFacts, table: str, column: str, *, dropping: bool) -> Fix:
    """Change the database default only after every pod sends the value itself."""
    new, old = op.new_field, op.old_field
    explicit: str | None = None
    if new is not None and old is not None:
        if not dropping and _literal(new.db_default_code):
            explicit = new.db_default_code
        elif new.has_default and not new.default_callable:
            explicit = new.default_code
    parts = []
    if explicit is not None and new is not None and old is not None:
        interim = new.with_kwargs(default=explicit, db_default=old.db_default_code)
        parts.append(
            migration(
                "release N: the code sends the value itself; the database default is unchanged (no SQL)",
                [op_call(op, field=interim) + ","],
            )
        )
    statement = op_call(op) if op.kwargs_code else f"migrations.{op.kind}(...)"
    parts.append(
        migration(
            "release N+1, after every old pod is gone: change the database default",
            [LOCK_TIMEOUT_ATOMIC, statement + ","],
            phase=POST_DEPLOY,
        )
    )
    steps = [
        "Release N: make the code write the column explicitly (a Python default= with the value you "
        "want), keeping the database default as it is.",
        f"Release N+1, once no pod of the old release runs: {'drop' if dropping else 'change'} the "
        f'DEFAULT of {table}.{column} in a migration marked safe_migrations_phase = "post-deploy".',
    ]
    return Fix(
        "Change the database default after the code no longer relies on it", tuple(steps), "\n\n".join(parts)
    )


# --- SM209 enum-type-change -------------------------------------------------------------------


def _ident(name: str) -> str:
    """A type name as PostgreSQL would read it: bare when it needs no quotes."""
    return name if name.isidentifier() and name == name.lower() else q(name)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def enum_add_value(type_name: str, value: str, anchor: str | None, server_version: int) -> Fix:
    where = f"AFTER {_lit(anchor)}" if anchor else "AFTER '...'  -- the existing value it follows"
    sql = f"ALTER TYPE {_ident(type_name)} ADD VALUE IF NOT EXISTS {_lit(value)} {where}"
    atomic = server_version >= 12
    body = [f"migrations.RunSQL({py(sql)}, reverse_sql=migrations.RunSQL.noop),"]
    code = migration(
        "its own migration"
        + ("" if atomic else " (atomic = False: PostgreSQL < 12 refuses ADD VALUE in a transaction)"),
        body,
        atomic=atomic,
    )
    steps = [
        "Add the value with an explicit position (BEFORE/AFTER) and IF NOT EXISTS, in a migration of its own.",
        "Deploy code that can read the new value before any code writes it: old pods that map the "
        "enum to a fixed set of choices fail on rows carrying a label they do not know.",
    ]
    if not atomic:
        steps.append(
            f"PostgreSQL {server_version} cannot run ALTER TYPE ... ADD VALUE inside a transaction "
            "block: the migration needs atomic = False."
        )
    else:
        steps.append(
            "The new value is usable only after the migration commits: write it in a later migration."
        )
    return Fix("Add the enum value explicitly placed, before any code writes it", tuple(steps), code)


def enum_rename_value(type_name: str, old: str, new: str, server_version: int) -> Fix:
    add = f"ALTER TYPE {_ident(type_name)} ADD VALUE IF NOT EXISTS {_lit(new)} AFTER {_lit(old)}"
    atomic = server_version >= 12
    code = "\n\n".join(
        [
            migration(
                "release N, migration 1: add the new label next to the old one",
                [f"migrations.RunSQL({py(add)}, reverse_sql=migrations.RunSQL.noop),"],
                atomic=atomic,
            ),
            migration(
                "release N, migration 2 (atomic = False): move the rows in batches",
                [
                    "migrations.RunPython(backfill, migrations.RunPython.noop),",
                    f"# def backfill(apps, schema_editor): UPDATE ... SET <column> = {_lit(new)} "
                    f"WHERE <column> = {_lit(old)}, 1,000 rows per transaction",
                ],
                atomic=False,
            ),
        ]
    )
    steps = [
        f"Add {new!r} as a new value (explicitly placed) instead of renaming {old!r}.",
        "Deploy code that reads both labels and writes the new one.",
        "Move the existing rows in batches; stop using the old label. PostgreSQL cannot remove an enum "
        "value: leave it unused, or rebuild the type in a maintenance window.",
    ]
    return Fix("Add the new label, migrate rows, retire the old one", tuple(steps), code)


def enum_create(type_name: str, django_version: tuple[int, int]) -> Fix:
    steps = [
        "Prefer a varchar column with Django choices (models.TextChoices) plus a CheckConstraint: "
        "adding or retiring a choice is then a code change and a constraint swap, not an ALTER TYPE.",
        "Or a lookup table with a ForeignKey when the set of values is data.",
    ]
    keyword = "condition" if django_version >= (5, 1) else "check"  # renamed in Django 5.1
    code = "\n".join(
        [
            "class Status(models.TextChoices):  # the labels of the enum",
            "    ...",
            "",
            "status = models.CharField(max_length=20, choices=Status.choices)",
            "# Meta.constraints:",
            f"models.CheckConstraint({keyword}=models.Q(status__in=Status.values), "
            f"name={py(f'{type_name}_valid')})",
        ]
    )
    return Fix("Prefer choices on a varchar column, or a lookup table", tuple(steps), code)


# --- SM210 drop-database / schema / other objects -------------------------------------------


def drop_object(kind: str, name: str, sql: str | None, *, database: bool = False) -> Fix:
    """Remove every use in release N, drop in a post-deploy migration of N+1 (RESTRICT)."""
    if database:
        steps = [
            "Never drop a database from a migration: DROP DATABASE cannot even run inside a "
            "transaction block, and every client of it breaks.",
            "Back it up and drop it as a reviewed operations task once nothing connects to it.",
        ]
        code = f"# not a migration: an operations task, after a backup\n# {sql or 'DROP DATABASE ...'}"
        return Fix("Drop databases outside migrations", tuple(steps), code)
    statement = (
        f"migrations.RunSQL({py(sql)}, reverse_sql=migrations.RunSQL.noop)"
        if sql
        else "migrations.RunSQL(...)"
    )
    code = migration(
        "release N+1, after every user of the object is gone",
        [LOCK_TIMEOUT_ATOMIC, statement + ","],
        phase=POST_DEPLOY,
    )
    steps = [
        f"Release N: remove every use of {kind.lower()} {name} (code, raw SQL, triggers, other services).",
        'Release N+1: drop it in a migration marked safe_migrations_phase = "post-deploy", with a '
        "short lock_timeout.",
        "Use RESTRICT (the default) and IF EXISTS, not CASCADE: the drop then fails instead of silently "
        "removing objects that still depend on it.",
    ]
    return Fix(f"Drop the {kind.lower()} in the release after its last use", tuple(steps), code)


# --- SM211 truncate -----------------------------------------------------------------------------


def truncate(tables: list[str]) -> Fix:
    function = ["def purge(apps, schema_editor):", "    with schema_editor.connection.cursor() as cursor:"]
    for table in tables:
        delete = f"DELETE FROM {_qn(table)} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {_qn(table)} LIMIT 5000))"
        function += [
            "        while True:  # atomic = False: each DELETE commits on its own",
            f"            cursor.execute({py(delete)})",
            "            if cursor.rowcount == 0:",
            "                break",
        ]
    code = migration(
        "its own migration (atomic = False): delete in batches",
        ["migrations.RunPython(purge, migrations.RunPython.noop),"],
        atomic=False,
        imports=("", "", *function),
    )
    steps = [
        "Make sure no running code still needs the rows: they cannot be restored by a rollback.",
        "Delete in batches from a data migration with atomic = False (or an operations job): "
        "each batch holds only row locks for a moment, and foreign keys are checked instead of "
        "cascading silently.",
    ]
    return Fix("Delete the rows in batches instead of TRUNCATE", tuple(steps), code)
