"""Child-process probes: the floors and the django.setup() baseline.

Run as ``python probes.py MODE`` with the project directory on PYTHONPATH and
DJANGO_SETTINGS_MODULE set.  Prints one JSON line on stdout: ``inner_s`` is the
time of the measured step alone (after interpreter start and, except for
``setup``, after django.setup()); the parent measures the whole process too.

Modes:
  setup       django.setup() alone.
  statewalk   MigrationLoader(None, ignore_no_migrations=True) + loader.project_state():
              load every migration module, build the graph, apply every
              migration's state_forwards once.
  render      the state walk, plus one model class per operation: after each operation's
              state_forwards, the model it names is rendered alone with only its
              primary key (a ProjectState of one tiny model, ``.apps``).  Django's
              schema editor takes model classes, and an operation's SQL needs at
              least the model it changes, with more fields than that (most need the
              state before and after, two classes): so this is a lower bound on what
              any tool pays that gets its SQL from Django's schema editor, before it
              generates, parses or checks a single statement.  "classes" counts them.
  collectsql  MigrationExecutor(connection) and Django's collect_sql loop (the
              loader's collect_sql since Django 3.2) over the full forwards
              plan from an empty database: Django's own SQL generation, done once
              over the whole plan (what sqlmigrate does per migration).  Migrations
              whose SQL needs introspection of an existing table fail on the
              empty database; they are counted in "failed" and skipped.
  labels      the installed apps that have migrations: {label: module name}.
"""

from __future__ import annotations

import json
import sys
import time


def collect_sql_tolerant(connection, loader, plan):
    """Django's MigrationLoader.collect_sql(plan), surviving migrations that need introspection.

    Same loop as Django's: one schema editor in collect_sql mode per migration and
    one project state carried forward.  A few old migrations (AlterUniqueTogether,
    AlterIndexTogether, some index renames) look their constraint names up in the
    database and raise on an empty one; such a migration is recorded, the state
    after it rebuilt from the graph, and the pass goes on (sqlmigrate would stop).
    """
    statements: list[str] = []
    failed: list[str] = []
    state = None
    for position, (migration, backwards) in enumerate(plan):
        assert not backwards
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            if state is None:
                state = loader.project_state((migration.app_label, migration.name), at_end=False)
            try:
                state = migration.apply(state, editor, collect_sql=True)
            except Exception as exc:  # noqa: BLE001 - a floor measurement keeps going
                failed.append(f"{migration.app_label}.{migration.name}: {type(exc).__name__}: {exc}")
                done = [(m.app_label, m.name) for m, _ in plan[: position + 1]]
                state = loader.graph.make_state(nodes=done, at_end=True, real_apps=loader.unmigrated_apps)
        statements.extend(editor.collected_sql)
    return statements, failed


def render_floor() -> tuple[int, int]:
    """The state walk of ``loader.project_state()`` plus one tiny model class per operation."""
    from django.db import models
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.state import ModelState, ProjectState

    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    plan = graph.forwards_plan_all() if hasattr(graph, "forwards_plan_all") else None
    if plan is None:
        plan = []
        seen: set = set()
        for leaf in graph.leaf_nodes():
            for key in graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    plan.append(key)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    classes = 0
    for key in plan:
        migration = graph.nodes[key]
        for operation in migration.operations:
            operation.state_forwards(migration.app_label, state)
            name = getattr(operation, "model_name_lower", None) or getattr(operation, "name_lower", None)
            model_state = state.models.get((migration.app_label, name))
            if model_state is None:
                continue
            pk = models.AutoField(primary_key=True)
            for field in model_state.fields.values():
                if getattr(field, "primary_key", False) and not field.is_relation:
                    pk = field.clone()
            tiny = ModelState(
                model_state.app_label,
                model_state.name,
                [("id", pk)],
                {"db_table": model_state.options.get("db_table")}
                if model_state.options.get("db_table")
                else {},
                (models.Model,),
            )
            alone = ProjectState()
            alone.add_model(tiny)
            alone.apps  # noqa: B018 - rendering is the measured work
            classes += 1
    return len(plan), classes


def main(mode: str) -> int:
    t0 = time.perf_counter()
    import django

    django.setup()
    t_setup = time.perf_counter() - t0
    out: dict = {"mode": mode, "setup_s": round(t_setup, 4)}

    if mode == "setup":
        out["inner_s"] = out["setup_s"]
    elif mode == "statewalk":
        from django.db.migrations.loader import MigrationLoader

        t1 = time.perf_counter()
        loader = MigrationLoader(None, ignore_no_migrations=True)
        state = loader.project_state()
        out["inner_s"] = round(time.perf_counter() - t1, 4)
        out["migrations"] = len(loader.graph.nodes)
        out["models"] = len(state.models)
    elif mode == "render":
        t1 = time.perf_counter()
        migrations, classes = render_floor()
        out["inner_s"] = round(time.perf_counter() - t1, 4)
        out["migrations"] = migrations
        out["classes"] = classes
    elif mode == "collectsql":
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        t1 = time.perf_counter()
        executor = MigrationExecutor(connection)
        loader = executor.loader
        plan = executor.migration_plan(loader.graph.leaf_nodes(), clean_start=True)
        statements, failed = collect_sql_tolerant(connection, loader, plan)
        out["inner_s"] = round(time.perf_counter() - t1, 4)
        out["migrations"] = len(plan)
        out["statements"] = sum(1 for s in statements if not s.lstrip().startswith("--"))
        out["failed"] = failed
    elif mode == "labels":
        from django.apps import apps
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(None, ignore_no_migrations=True)
        with_migrations = {label for label, _ in loader.disk_migrations}
        out["labels"] = {
            cfg.label: cfg.name for cfg in apps.get_app_configs() if cfg.label in with_migrations
        }
        out["migrations_per_label"] = {
            label: sum(1 for k in loader.disk_migrations if k[0] == label) for label in with_migrations
        }
        out["inner_s"] = 0.0
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
