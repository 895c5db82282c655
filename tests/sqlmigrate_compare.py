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


def _strip(lines: list[str]) -> list[str]:
    return [line for line in lines if line.strip() and not line.startswith("--")]


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
        for key in plan:
            out = io.StringIO()
            try:
                call_command("sqlmigrate", key[0], key[1], stdout=out, no_color=True)
                live = out.getvalue().splitlines()
            except Exception as exc:  # noqa: BLE001 - recorded as a mismatch
                live = [f"sqlmigrate failed: {exc}"]
            item = ours[key]
            mine = item.collected.sqlmigrate_lines() if item.collected else [f"offline failed: {item.error}"]
            if _strip(live) != _strip(mine):
                mismatches.append(
                    {"migration": f"{key[0]}.{key[1]}", "live": _strip(live), "offline": _strip(mine)}
                )
            MigrationExecutor(connection).migrate([key])
        connection.close()
        print(json.dumps({"compared": len(plan), "server_version": version, "mismatches": mismatches}))
        return 0
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
