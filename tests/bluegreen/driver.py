"""The blue/green protocol, run inside a project against a real PostgreSQL (one JSON line out).

Usage: ``python -m tests.bluegreen.driver SPEC_JSON`` with the project's settings.

1. migrate the app up to ``base`` (the release that is running), fill it with rows through
   the ORM of that release (``seed``, given ``apps`` of the base state);
2. apply every later migration of the app one by one, as a deploy would:
   - while a step runs, each SQL statement inside a transaction is traced: a lock that
     blocks writes (SHARE or stronger) on a table that existed before the step, held
     while the step reads, rewrites or updates that table's rows, is "blocking";
   - after a pre-deploy step, the old code runs its probe (``old_probe``: a SELECT and an
     INSERT through the base state's models); at the first post-deploy step the new code
     takes over (``new_probe`` through the final state's models) and runs after each step;
3. dump the final catalogue (columns, types, nullability, defaults, indexes, constraints,
   triggers, views, functions) and the final model state of the app;
4. with ``"backwards": true``, migrate back to ``base`` (a rollback of the whole release) and
   dump the catalogue and the seeded rows again, next to those dumped right after seeding.
"""

from __future__ import annotations

import json
import sys
from typing import Any

STRONG = ("ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")


def _rows(cursor: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params)
    return list(cursor.fetchall())


class Tracer:
    """A connection.execute_wrapper: per statement, strong locks held and work done on tables."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.blocking: list[str] = []
        self.autocommit: list[str] = []

    def _snapshot(self, raw: Any) -> dict[str, tuple[int, int]]:
        with raw.cursor() as cursor:
            stats = _rows(
                cursor,
                "SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                "+ n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables",
            )
            nodes = _rows(
                cursor,
                "SELECT relname, relfilenode FROM pg_class WHERE relkind IN ('r', 'p') "
                "AND relnamespace = 'public'::regnamespace",
            )
        files = dict(nodes)
        work = dict(stats)
        return {t: (int(work.get(t, 0)), int(files.get(t, 0))) for t in self.existing}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        connection = context["connection"]
        if not connection.in_atomic_block:
            self.autocommit.append(" ".join(str(sql).split())[:120])
            return execute(sql, params, many, context)
        raw = connection.connection
        before = self._snapshot(raw)
        result = execute(sql, params, many, context)
        after = self._snapshot(raw)
        with raw.cursor() as cursor:
            locks = _rows(
                cursor,
                "SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.pid = pg_backend_pid() AND l.granted",
            )
        for table, mode in locks:
            if table not in self.existing or mode not in STRONG:
                continue
            rows = after[table][0] - before[table][0]
            rewritten = after[table][1] != before[table][1]
            if rows > 0 or rewritten:
                what = "rewrote it" if rewritten else f"read or wrote {rows} rows"
                self.blocking.append(
                    f"{mode} on {table} while the statement {what}: {' '.join(str(sql).split())[:160]}"
                )
        return result


def _probe(code: str, apps: Any) -> str | None:
    """Run probe code in its own transaction; the error, or None when it worked."""
    from django.db import transaction

    try:
        with transaction.atomic():
            exec(code, {"apps": apps})  # test code given by the test itself
    except Exception as exc:  # noqa: BLE001 - the probe's failure is the result
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


def catalogue(connection: Any) -> dict[str, Any]:
    with connection.cursor() as cursor:
        columns = _rows(
            cursor,
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v') "
            "AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'django_migrations'",
        )
        indexes = _rows(
            cursor,
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename <> 'django_migrations'",
        )
        constraints = _rows(
            cursor,
            "SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relname <> 'django_migrations'",
        )
        triggers = _rows(cursor, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        views = _rows(cursor, "SELECT viewname FROM pg_views WHERE schemaname = 'public'")
        functions = _rows(cursor, "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")
    out: dict[str, Any] = {"tables": {}, "triggers": sorted(t for (t,) in triggers)}
    out["views"] = sorted(v for (v,) in views)
    out["functions"] = sorted(f for (f,) in functions)
    for table, column, kind, notnull, default in columns:
        entry = out["tables"].setdefault(table, {"columns": {}, "indexes": {}, "constraints": {}})
        entry["columns"][column] = [kind, bool(notnull), default]
    for table, name, definition in indexes:
        out["tables"].setdefault(table, {"columns": {}, "indexes": {}, "constraints": {}})
        out["tables"][table]["indexes"][name] = definition
    for table, name, kind, definition, validated in constraints:
        out["tables"][table]["constraints"][name] = [kind, definition, bool(validated)]
    return out


def fingerprint(connection: Any, cutoffs: dict[str, int]) -> dict[str, dict[str, str]]:
    """An md5 per column over the seeded rows (``id`` up to the table's cutoff): the data the
    running release wrote must come out of the migrations unchanged."""
    out: dict[str, dict[str, str]] = {}
    with connection.cursor() as cursor:
        for table, cutoff in sorted(cutoffs.items()):
            columns = _rows(
                cursor,
                "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped",
                [table],
            )
            for (column,) in columns:
                ((digest,),) = _rows(
                    cursor,
                    f"SELECT md5(string_agg(coalesce(\"{column}\"::text, '<null>'), ',' ORDER BY \"id\")) "
                    f'FROM "{table}" WHERE "id" <= %s',
                    [cutoff],
                )
                out.setdefault(table, {})[column] = digest
    return out


def state_dump(state: Any, app: str) -> dict[str, Any]:
    from django.db.migrations.writer import MigrationWriter

    out: dict[str, Any] = {}
    for (label, name), model in sorted(state.models.items()):
        if label != app:
            continue
        out[name] = {
            "fields": {f: MigrationWriter.serialize(field)[0] for f, field in model.fields.items()},
            "options": {k: MigrationWriter.serialize(v)[0] for k, v in sorted(model.options.items())},
            "bases": MigrationWriter.serialize(model.bases)[0],
        }
    return out


def main(spec: dict[str, Any]) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    app = spec["app"]
    executor = MigrationExecutor(connection)
    loader = executor.loader
    (leaf,) = loader.graph.leaf_nodes(app)
    chain = [k for k in loader.graph.forwards_plan(leaf) if k[0] == app]
    base = (app, spec["base"])
    executor.migrate([base])
    old_apps = loader.project_state(base).apps
    new_state = loader.project_state(leaf)
    new_apps = new_state.apps
    exec(spec["seed"], {"apps": old_apps})  # test code given by the test itself
    backwards = bool(spec.get("backwards"))
    if backwards:
        at_base = {
            "catalogue": catalogue(connection),
            "data": fingerprint(connection, spec.get("fingerprint", {})),
        }
    steps: list[dict[str, Any]] = []
    deployed = False
    at_deploy: str | None = None
    for key in chain[chain.index(base) + 1 :]:
        migration = loader.graph.nodes[key]
        phase = getattr(migration, "safe_migrations_phase", None) or "pre-deploy"
        if phase == "post-deploy" and not deployed:
            deployed = True
            at_deploy = _probe(spec["new_probe"], new_apps)
        with connection.cursor() as cursor:
            existing = {
                t
                for (t,) in _rows(
                    cursor,
                    "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                    "AND relnamespace = 'public'::regnamespace AND relname <> 'django_migrations'",
                )
            }
        tracer = Tracer(existing)
        error = None
        try:
            with connection.execute_wrapper(tracer):
                MigrationExecutor(connection).migrate([key])
        except Exception as exc:  # noqa: BLE001 - a failing step is a result too
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        steps.append(
            {
                "name": key[1],
                "phase": phase,
                "atomic": bool(migration.atomic),
                "error": error,
                "blocking": tracer.blocking,
                "autocommit": tracer.autocommit,
                "old_code": None if deployed else _probe(spec["old_probe"], old_apps),
                "new_code": _probe(spec["new_probe"], new_apps) if deployed else None,
            }
        )
        if error:
            break
    if not deployed:
        at_deploy = _probe(spec["new_probe"], new_apps)
    out = {
        "steps": steps,
        "at_deploy": at_deploy,
        "catalogue": catalogue(connection),
        "data": fingerprint(connection, spec.get("fingerprint", {})),
        "state": state_dump(new_state, app),
    }
    if backwards:
        error = None
        try:
            MigrationExecutor(connection).migrate([base])
        except Exception as exc:  # noqa: BLE001 - a failing rollback is a result too
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        out["at_base"] = at_base
        out["back"] = {
            "error": error,
            "catalogue": catalogue(connection),
            "data": fingerprint(connection, spec.get("fingerprint", {})),
        }
    return out


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result) + "\n")
