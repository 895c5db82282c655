"""Minimal model states for one operation, so SQL generation renders a few tiny models.

Django renders every model of the project state (and re-renders every related
model after each change); that is almost all the time a full SQL collection
takes. An operation on one model only reads that model's fields it names, its
primary key, and the primary key (or ``to_field``) of the models its relations
point to. So for such operations we build a ProjectState holding the model with
only those fields, plus stub models holding only the key the relations target.
Operations that reach further (reverse relations: primary key or unique changes,
renamed models or tables, custom operations) use Django's full rendering.
tests/test_offline_sql.py checks the result against ``sqlmigrate``.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations import operations as ops
from django.db.migrations.state import ModelState, ProjectState

ModelKey = tuple[str, str]

FULL = "full"  # render the whole project state, as Django does
ALL = ("__all__",)  # every field of the model, with stubs for its relation targets

# Operations that need no model at all (their SQL does not depend on the state).
_NO_MODELS = (ops.RunSQL, ops.RunPython)

_NO_SQL = (ops.AlterModelOptions, ops.AlterModelManagers)


def _lower_key(app_label: str, reference: Any) -> ModelKey | None:
    """Model key of a relation target given as "app.Model", "Model" or a class."""
    if isinstance(reference, str):
        if reference == "self":
            return None
        if "." in reference:
            app, name = reference.split(".", 1)
            return app, name.lower()
        return app_label, reference.lower()
    meta = getattr(reference, "_meta", None)
    if meta is not None:
        return meta.app_label, meta.model_name
    return None


def model_key(operation: Any, app_label: str) -> ModelKey:
    """The (app_label, model_name) an operation works on."""
    name = getattr(operation, "model_name_lower", None) or getattr(operation, "name_lower", "")
    return app_label, str(name)


def keeps(operations: Any, app_label: str, state: ProjectState) -> dict[ModelKey, tuple[str, ...]]:
    """Per model, the union of the fields the migration's operations read.

    Rendering every operation of one model with the same field set makes the state
    after one operation the very state before the next, so it is rendered once.
    """
    out: dict[ModelKey, tuple[str, ...]] = {}
    for operation in operations:
        need = needs(operation, app_label, state)
        if need is None or need == FULL:
            continue
        key = model_key(operation, app_label)
        if need == ALL or out.get(key) == ALL:
            out[key] = ALL
        else:
            out[key] = tuple(sorted(set(out.get(key, ())) | set(need)))
    return out


def needs_full(operations: Any, app_label: str, state: ProjectState) -> bool:
    """Whether a migration must be collected the way Django does it, rendering everything.

    Judged on the state before the migration; an operation on a model or field that
    an earlier operation of the same migration creates counts as needing it.
    """
    created: set[ModelKey] = set()
    for operation in operations:
        if isinstance(operation, ops.SeparateDatabaseAndState):
            return True
        key = model_key(operation, app_label)
        if isinstance(operation, ops.CreateModel):
            created.add(key)
        elif key in created and isinstance(operation, _ON_NEW_MODEL):
            # makemigrations' initial migrations: fields, indexes and together-sets added to
            # a model created just before. _run judges them on the state of that moment.
            field = getattr(operation, "field", None)
            if field is None or not field.primary_key:
                continue
        if needs(operation, app_label, state) == FULL:
            return True
    return False


_ON_NEW_MODEL = (
    ops.AddField,
    ops.AlterUniqueTogether,
    ops.AlterIndexTogether,
    ops.AddIndex,
    ops.AddConstraint,
)


def needs(operation: Any, app_label: str, state: ProjectState) -> tuple[str, ...] | str | None:
    """The fields an operation reads on its model, FULL, or None when it needs no model."""
    if isinstance(operation, _NO_MODELS):
        return None
    if type(operation).__module__.split(".")[0] not in ("django",):
        return FULL  # custom operations: no assumptions
    if isinstance(operation, _NO_SQL):
        return None  # database_forwards does nothing
    if isinstance(operation, ops.CreateModel):
        return ALL  # CREATE TABLE reads every field; relations only read their target's key
    if isinstance(
        operation,
        (ops.DeleteModel, ops.AddConstraint, ops.RemoveConstraint, ops.AlterOrderWithRespectTo),
    ):
        return ALL if model_key(operation, app_label) in state.models else FULL
    key = (app_label, getattr(operation, "model_name_lower", "") or "")
    model_state = state.models.get(key)
    if model_state is None:
        return FULL
    if isinstance(operation, (ops.AddField, ops.RemoveField, ops.AlterField)):
        name = operation.name
        candidates = [model_state.fields.get(name), getattr(operation, "field", None)]
        for field in candidates:
            if field is None:
                continue
            if field.primary_key or (field.unique and isinstance(operation, ops.AlterField)):
                # AlterField drops and recreates the foreign keys pointing at a key or
                # unique column (a to_field target) when its type or collation changes;
                # adding or dropping one reads none.
                old = model_state.fields.get(name)
                if not (isinstance(operation, ops.AlterField) and _same_column_type(old, operation.field)):
                    return FULL
            if field.many_to_many and isinstance(operation, ops.AlterField):
                return FULL  # through tables are altered in place
            if field.many_to_many or getattr(field, "generated", False):
                return ALL  # the through model / the generated expression reads other fields
        return (name,)
    if isinstance(operation, ops.RenameField):
        field = model_state.fields.get(operation.old_name)
        if field is None or field.primary_key or field.unique or field.many_to_many:
            return FULL
        return (operation.old_name, operation.new_name)
    if isinstance(operation, (ops.AddIndex, ops.RemoveIndex, ops.RenameIndex)):
        index = getattr(operation, "index", None)
        if index is not None and (index.expressions or index.include or index.condition):
            return FULL
        if isinstance(operation, ops.RemoveIndex):
            try:
                index = model_state.get_index_by_name(operation.name)
            except ValueError:
                return FULL
            if index.expressions or index.include or index.condition:
                return FULL
        if isinstance(operation, ops.RenameIndex):
            # An unnamed index (old_fields) is looked up in the database: full rendering. A
            # named one is found in the model's Meta.indexes, which must keep it.
            if operation.old_fields:
                return FULL
            try:
                index = model_state.get_index_by_name(operation.old_name)
            except ValueError:
                return FULL
            if index.expressions or index.include or index.condition:
                return FULL
            return tuple(f.lstrip("-") for f in index.fields)
        if index is None:
            return FULL
        return tuple(f.lstrip("-") for f in index.fields)
    if isinstance(operation, (ops.AlterUniqueTogether, ops.AlterIndexTogether)):
        option = operation.option_name
        names = {n for group in (getattr(operation, option, None) or ()) for n in group}
        names |= {n for group in (model_state.options.get(option) or ()) for n in group}
        return tuple(sorted(names))
    return FULL


def _same_column_type(old: Any, new: Any) -> bool:
    """Whether two field versions certainly have the same column type and collation
    (only options such as validators, choices or help_text differ)."""
    if old is None or new is None or type(old) is not type(new):
        return False
    if bool(old.primary_key) != bool(new.primary_key) or bool(old.unique) != bool(new.unique):
        return False
    for attr in ("max_length", "max_digits", "decimal_places", "db_collation", "db_column"):
        if getattr(old, attr, None) != getattr(new, attr, None):
            return False
    old_target = getattr(getattr(old, "remote_field", None), "model", None)
    new_target = getattr(getattr(new, "remote_field", None), "model", None)
    return str(old_target).lower() == str(new_target).lower()


def _stub(state: ProjectState, key: ModelKey, keep: set[str], depth: int = 0) -> list[ModelState]:
    """A model holding only the fields relations point at (its pk, to_field targets)."""
    model_state = state.models.get(key)
    if model_state is None or depth > 5:
        return []
    fields: dict[str, Any] = {}
    extra: list[ModelState] = []
    for field in model_state.fields.values():
        if field.primary_key:  # a CompositePrimaryKey names its columns
            keep = keep | set(getattr(field, "field_names", ()) or ())
    for name, field in model_state.fields.items():
        if field.primary_key or name in keep:
            fields[name] = field
            if field.is_relation:  # multi-table inheritance: the pk is a parent link
                target = _lower_key(key[0], field.remote_field.model)
                if target is not None and target != key:
                    extra += _stub(state, target, _to_fields(field), depth + 1)
    bases = []
    for base in model_state.bases:
        base_key = _lower_key(key[0], base) if isinstance(base, str) else None
        if base_key is not None:
            extra += _stub(state, base_key, set(), depth + 1)
        bases.append(base)
    options = {
        k: v
        for k, v in model_state.options.items()
        if k in ("db_table", "db_tablespace", "managed", "proxy", "swappable", "abstract")
    }
    options.setdefault("indexes", [])
    options.setdefault("constraints", [])
    stub = ModelState(key[0], model_state.name, list(fields.items()), options, tuple(bases), [])
    return [stub, *extra]


def _to_fields(field: Any) -> set[str]:
    to_fields = getattr(field, "to_fields", None) or []
    return {name for name in to_fields if name}


def _covered(names: set[str], option: Any) -> bool:
    """Whether a Meta index's columns are all in ``names`` (a lookup on them may match it)."""
    if getattr(option, "expressions", None):
        return False  # an expression index never matches a lookup by column names
    fields = getattr(option, "fields", None)
    if fields is None:
        return False  # CheckConstraint, ExclusionConstraint: expressions over any field
    include = getattr(option, "include", None) or ()
    return {f.lstrip("-") for f in fields} | set(include) <= names


def _reduced_options(options: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Options keeping only the Meta indexes and together sets the kept fields cover.

    Django reads Meta index names to exclude them from index lookups on one column
    list; an index naming a field that is not kept cannot match one. Constraints
    are all kept: a CHECK's columns are not visible from its name, and Django
    excludes every Meta constraint by name when it looks up CHECKs on a column.
    """
    reduced = dict(options)
    reduced["indexes"] = [i for i in options.get("indexes") or () if _covered(names, i)]
    for option in ("unique_together", "index_together"):
        if option in options:
            reduced[option] = {g for g in options[option] if set(g) <= names}
    return reduced


def mini_state(state: ProjectState, key: ModelKey, keep: tuple[str, ...]) -> ProjectState:
    """A ProjectState with ``key`` reduced to ``keep`` + its pk, and stubs for its targets."""
    model_state = state.models[key]
    every = keep == ALL
    needed = set(keep) | {model_state.options.get("order_with_respect_to")}
    for field in model_state.fields.values():
        if field.primary_key:  # a CompositePrimaryKey (Django 5.2+) names its columns
            needed |= set(getattr(field, "field_names", ()) or ())
    fields: dict[str, Any] = {}
    for name, field in model_state.fields.items():
        if every or field.primary_key or name in needed:
            fields[name] = field
    options = dict(model_state.options) if every else _reduced_options(model_state.options, set(fields))
    reduced = ModelState(
        key[0],
        model_state.name,
        list(fields.items()),
        options,
        model_state.bases,
        list(model_state.managers),
    )
    found: dict[ModelKey, ModelState] = {key: reduced}
    wanted: dict[ModelKey, set[str]] = {}
    for field in fields.values():
        if field.is_relation and field.remote_field is not None:
            target = _lower_key(key[0], field.remote_field.model)
            if target is not None and target != key:
                wanted.setdefault(target, set()).update(_to_fields(field))
            # A many-to-many through an explicit model (TaggableManager, through=...)
            # resolves that model when rendered; a stub of it is enough for the SQL.
            through = getattr(field.remote_field, "through", None)
            through_key = _lower_key(key[0], through) if through is not None else None
            if through_key is not None and through_key != key:
                wanted.setdefault(through_key, set())
    for base in model_state.bases:
        if isinstance(base, str):
            base_key = _lower_key(key[0], base)
            if base_key is not None:
                wanted.setdefault(base_key, set())
    for target, keep_fields in wanted.items():
        for stub in _stub(state, target, keep_fields):
            found.setdefault((stub.app_label, stub.name_lower), stub)
    missing = [t for t in wanted if t not in state.models]
    mini = ProjectState(real_apps=state.real_apps if missing else None)
    mini.models = found
    return mini
