"""Compare offline SQL with sqlmigrate against a live PostgreSQL, one migration at a time.

Run as a script (the test suite calls it in a subprocess): it creates a scratch
database, and for every migration of the plan, in order, prints what sqlmigrate
shows on the live server (migrated up to just before that migration) next to the
offline SQL, then applies the migration. The scratch database is always dropped.
Output: one JSON object {"compared": N, "mismatches": [...]}.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import uuid

import psycopg


def _admin() -> psycopg.Connection:
    return psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    )


# Callable defaults (timezone.now, uuid.uuid4) are evaluated each time Django generates
# the SQL, so two runs legitimately embed different values: compare their shape only.
_VOLATILE = [
    (re.compile(r"'\d{4}-\d\d-\d\d[ T][\d:.]+(?:[+-]\d\d:\d\d)?'::timestamptz"), "'<now>'::timestamptz"),
    (re.compile(r"'[0-9a-f]{32}'::uuid"), "'<uuid4>'::uuid"),
]


# When several constraints or indexes of one column match a lookup, PostgreSQL returns
# them in heap order, which moves with free-space reuse: Django then drops them in an
# order no tool can predict. Runs of such drops are compared as sets.
_DROP = re.compile(r'^(?:ALTER TABLE "[^"]+" DROP CONSTRAINT |DROP INDEX IF EXISTS |SET CONSTRAINTS )')


def _strip(lines: list[str]) -> list[str]:
    out: list[str] = []
    run: list[str] = []
    for line in lines:
        if not line.strip() or line.startswith("--"):
            continue
        for pattern, placeholder in _VOLATILE:
            line = pattern.sub(placeholder, line)
        if _DROP.match(line):
            run.append(line)
            continue
        out += [*sorted(run), line]
        run = []
    return out + sorted(run)


def main() -> int:
    name = f"sm_cmp_{uuid.uuid4().hex[:10]}"
    os.environ["SAFE_MIGRATIONS_TEST_DB"] = name
    os.environ["DEMO_DB_NAME"] = name
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        from safe_migrations.loading import load_graph
        from safe_migrations.offline import offline_connection
        from safe_migrations.sqlcollect import MigrationCollector, walk

        version = connection.pg_version // 10000
        loaded = load_graph(None)
        plan = loaded.full_plan()
        offline = offline_connection("default", version)
        collector = MigrationCollector(offline, None)
        ours = {
            item.key: item
            for item in walk(
                loaded.graph,
                plan,
                set(plan),
                collector,
                loaded.files,
                real_apps=loaded.loader.unmigrated_apps,
            )
        }
        mismatches = []
        executed_only = []  # differs from sqlmigrate, equals what migrate executed
        executed: list[str] = []

        def capture(execute, sql, params, many, context):
            # Schema SQL reaches the cursor already composed (params None); the ORM
            # queries of the migration recorder and of RunPython carry parameters.
            if params is None and not sql.lstrip().upper().startswith("SELECT"):
                executed.append(sql.strip().rstrip(";"))
            return execute(sql, params, many, context)

        for key in plan:
            out = io.StringIO()
            try:
                call_command("sqlmigrate", key[0], key[1], stdout=out, no_color=True)
                live = out.getvalue().splitlines()
            except Exception as exc:  # noqa: BLE001 - recorded as a mismatch
                live = [f"sqlmigrate failed: {exc}"]
            item = ours[key]
            mine = item.collected.sqlmigrate_lines() if item.collected else [f"offline failed: {item.error}"]
            mine = "\n".join(mine).splitlines()  # sqlmigrate's output is read back line by line
            executed.clear()
            with connection.execute_wrapper(capture):
                MigrationExecutor(connection).migrate([key])
            if _strip(live) != _strip(mine):
                ran = _strip(executed)
                our_sql = (
                    _strip([s.sql.strip().rstrip(";") for s in item.collected.statements])
                    if item.collected
                    else []
                )
                entry = {"migration": f"{key[0]}.{key[1]}", "live": _strip(live), "offline": _strip(mine)}
                if item.collected is not None and ran == our_sql:
                    executed_only.append(entry)
                else:
                    entry["executed"] = ran
                    mismatches.append(entry)
        connection.close()
        print(
            json.dumps(
                {
                    "compared": len(plan),
                    "server_version": version,
                    "mismatches": mismatches,
                    "sqlmigrate_differs_but_equals_executed": executed_only,
                }
            )
        )
        return 0
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
