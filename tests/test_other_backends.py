"""Hazards that break the running code on any backend, judged from the operation where no
SQL tree exists (SQLite here; MySQL and Oracle take the same path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections, migrations, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.state import ProjectState
from django.db.utils import ConnectionHandler

from safe_migrations.findings import Finding
from tests.harness import APP, Mig, run
from tests.rules._fix_migrations import fix_migrations

SQLITE = "sqlite"


def initial() -> list[object]:
    return [
        migrations.CreateModel(
            "Customer",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=100)),
                ("fax", models.CharField(max_length=20, null=True)),
            ],
        )
    ]


def codes(*steps: list[object]) -> list[str]:
    return run(initial(), *steps, database=SQLITE).codes()


def test_compatibility_breaks_are_flagged_on_sqlite():
    assert codes([migrations.RemoveField("customer", "fax")]) == ["SM201"]
    assert codes([migrations.DeleteModel("Customer")]) == ["SM202"]
    assert codes([migrations.RenameField("customer", "fax", "telefax")]) == ["SM203"]
    assert codes(
        [migrations.AlterField("customer", "fax", models.CharField(max_length=20, null=True, db_column="f"))]
    ) == ["SM203"]
    assert codes([migrations.RenameModel("Customer", "Client")]) == ["SM204"]
    assert codes([migrations.AlterModelTable("customer", "crm_customer")]) == ["SM204"]
    assert codes([migrations.AddField("customer", "points", models.IntegerField(default=0))]) == ["SM205"]


def test_safe_forms_pass_on_sqlite():
    assert codes([migrations.AddField("customer", "points", models.IntegerField(null=True))]) == []
    # The state-only rename keeps the column: db_column pins it.
    pinned = migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.RenameField("customer", "fax", "telefax"),
            migrations.AlterField(
                "customer", "telefax", models.CharField(max_length=20, null=True, db_column="fax")
            ),
        ]
    )
    assert codes([pinned]) == []
    # Removing the field from the state only (release N of the two-release drop).
    state_only = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("customer", "fax")]
    )
    assert codes([state_only]) == []
    # A model created in the same migration is new: nothing runs against it yet.
    fresh = [
        migrations.CreateModel(
            "Tag", [("id", models.BigAutoField(primary_key=True)), ("x", models.TextField())]
        ),
        migrations.RemoveField("tag", "x"),
    ]
    assert codes(fresh) == []


def test_sqlite_table_rebuild_keeps_every_column():
    # SQLite adds a NOT NULL column by rebuilding the table: the SQL must carry every column
    # (a model reduced to the fields the operation names would copy only those and lose data).
    [*_, insert, drop, rename] = run(
        initial(),
        [migrations.AddField("customer", "points", models.IntegerField(default=0))],
        database=SQLITE,
    ).sql()
    assert '"name"' in insert and '"fax"' in insert, insert
    assert drop.startswith('DROP TABLE "'), drop
    assert "RENAME TO" in rename, rename


# --- the fix code a finding prints runs on the engine being linted ----------------------------


@contextmanager
def database(alias: str, settings: dict[str, object]) -> Iterator[BaseDatabaseWrapper]:
    """A real connection registered under ``alias`` for the test's duration, so the
    collector can lint with it as lintmigrations does with a project's alias."""
    connections.settings[alias] = ConnectionHandler({"default": settings}).settings["default"]
    try:
        yield connections[alias]
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]


def migrate(
    connection: BaseDatabaseWrapper, history: list[Mig], state: ProjectState | None = None
) -> ProjectState:
    """Apply each migration for real, as `migrate` does, one schema editor per migration."""
    state = state or ProjectState()
    for i, mig in enumerate(history):
        attrs = {"operations": list(mig.operations), "atomic": mig.atomic}
        migration = type("Migration", (migrations.Migration,), attrs)(f"{i + 1:04d}_step", APP)
        with connection.schema_editor(atomic=migration.atomic) as editor:
            state = migration.apply(state, editor)
    return state


def columns(connection: BaseDatabaseWrapper, table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def only_finding(step: list[object], alias: str) -> Finding:
    [finding] = [f for f in run(initial(), step, database=alias).last if f.suppressed is None]
    assert finding.fix is not None
    return finding


@pytest.fixture
def sqlite_file(tmp_path: Path, django_db_blocker: object) -> Iterator[BaseDatabaseWrapper]:
    settings = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
    with django_db_blocker.unblock(), database("sqlite_file", settings) as connection:  # type: ignore[attr-defined]
        yield connection


def test_drop_column_fix_migrates_on_sqlite(sqlite_file):
    fix = only_finding([migrations.RemoveField("customer", "fax")], SQLITE).fix
    assert fix is not None and "IF EXISTS" not in fix.code and "lock_timeout" not in fix.code, fix.code
    state = migrate(sqlite_file, [Mig(initial())])
    with sqlite_file.cursor() as cursor:
        cursor.execute("INSERT INTO shop_customer (name, fax) VALUES ('a', '1')")
    migrate(sqlite_file, fix_migrations(fix.code), state)
    assert columns(sqlite_file, "shop_customer") == ["id", "name"]
    with sqlite_file.cursor() as cursor:
        cursor.execute("SELECT name FROM shop_customer")
        assert cursor.fetchall() == [("a",)]


def mysql_driver() -> str | None:
    """Why MariaDB tests cannot run, or None: Django needs MySQLdb (mysqlclient, or PyMySQL
    standing in for it, as the test extra installs)."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        try:
            import pymysql
        except ImportError:
            return "neither mysqlclient nor PyMySQL is installed (pip install -e '.[test]')"
        pymysql.install_as_MySQLdb()
    return None


MARIADB = {
    "ENGINE": "django.db.backends.mysql",
    "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
    "PORT": os.environ.get("MYSQL_PORT", "3306"),
    "USER": os.environ.get("MYSQL_USER", "root"),
    "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
}


@pytest.fixture
def mariadb(django_db_blocker: object) -> Iterator[BaseDatabaseWrapper]:
    """A scratch database on the MariaDB server, dropped afterwards."""
    reason = mysql_driver()
    if reason:
        pytest.skip(reason)
    name = f"{os.environ.get('SAFE_MIGRATIONS_TEST_DB', 'safe_migrations')}_fixes"
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        with database("mariadb_server", {**MARIADB, "NAME": ""}) as server:
            try:
                server.ensure_connection()
            except Exception as exc:  # noqa: BLE001 - any failure to connect means no server
                pytest.skip(f"MariaDB is not reachable on {MARIADB['HOST']}:{MARIADB['PORT']}: {exc}")
            with server.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(f"CREATE DATABASE `{name}`")
            try:
                with database("mariadb", {**MARIADB, "NAME": name}) as connection:
                    yield connection
            finally:
                with server.cursor() as cursor:
                    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_drop_column_fix_migrates_on_mariadb(mariadb):
    fix = only_finding([migrations.RemoveField("customer", "fax")], "mariadb").fix
    assert fix is not None and "lock_wait_timeout" in fix.code, fix.code
    state = migrate(mariadb, [Mig(initial())])
    with mariadb.cursor() as cursor:
        cursor.execute("INSERT INTO shop_customer (name, fax) VALUES ('a', '1')")
    migrate(mariadb, fix_migrations(fix.code), state)
    assert columns(mariadb, "shop_customer") == ["id", "name"]
    with mariadb.cursor() as cursor:
        cursor.execute("SELECT name FROM shop_customer")
        assert list(cursor.fetchall()) == [("a",)]


def tables(connection: BaseDatabaseWrapper) -> list[str]:
    with connection.cursor() as cursor:
        return sorted(t.name for t in connection.introspection.get_table_list(cursor))


def test_drop_table_fix_migrates_on_sqlite(sqlite_file):
    fix = only_finding([migrations.DeleteModel("Customer")], SQLITE).fix
    assert fix is not None and "lock_timeout" not in fix.code, fix.code
    state = migrate(sqlite_file, [Mig(initial())])
    migrate(sqlite_file, fix_migrations(fix.code), state)
    assert "shop_customer" not in tables(sqlite_file)


def test_rename_table_fix_migrates_on_sqlite(sqlite_file):
    fix = only_finding([migrations.AlterModelTable("customer", "crm_customer")], SQLITE).fix
    assert fix is not None and "lock_timeout" not in fix.code, fix.code
    assert any("read-only" in step for step in fix.steps), fix.steps
    state = migrate(sqlite_file, [Mig(initial())])
    with sqlite_file.cursor() as cursor:
        cursor.execute("INSERT INTO shop_customer (name, fax) VALUES ('a', '1')")
    release_n, release_n1 = fix_migrations(fix.code)
    state = migrate(sqlite_file, [release_n], state)
    with sqlite_file.cursor() as cursor:
        cursor.execute("SELECT name FROM shop_customer")  # the old pods' name: the view
        assert cursor.fetchall() == [("a",)]
    migrate(sqlite_file, [release_n1], state)
    assert "shop_customer" not in tables(sqlite_file)
    assert "crm_customer" in tables(sqlite_file)


def test_add_not_null_column_fix_migrates_on_sqlite(sqlite_file):
    # makemigrations' one-off default: the fix drops the database default in release N+1.
    step = [migrations.AddField("customer", "points", models.IntegerField(default=0), preserve_default=False)]
    fix = only_finding(step, SQLITE).fix
    assert fix is not None and "lock_timeout" not in fix.code, fix.code
    state = migrate(sqlite_file, [Mig(initial())])
    with sqlite_file.cursor() as cursor:
        cursor.execute("INSERT INTO shop_customer (name, fax) VALUES ('a', '1')")
    migrate(sqlite_file, fix_migrations(fix.code), state)
    with sqlite_file.cursor() as cursor:
        cursor.execute("SELECT name, points FROM shop_customer")
        assert cursor.fetchall() == [("a", 0)]


def test_callable_unique_default_fix_is_django_code_that_migrates_on_sqlite(sqlite_file):
    # A unique UUID filled by uuid.uuid4: one value per row, then unique. The PostgreSQL
    # recipe (CREATE UNIQUE INDEX CONCURRENTLY, ADD CONSTRAINT ... USING INDEX) does not exist
    # on SQLite; the fix must be Django's own AlterField there.
    import uuid

    step = [migrations.AddField("customer", "token", models.UUIDField(default=uuid.uuid4, unique=True))]
    fix = only_finding(step, SQLITE).fix
    assert fix is not None
    assert "CONCURRENTLY" not in fix.code and "USING INDEX" not in fix.code, fix.code
    assert not any("CHECK NOT VALID" in s or "RandomUUID" in s for s in fix.steps), fix.steps
    state = migrate(sqlite_file, [Mig(initial())])
    with sqlite_file.cursor() as cursor:
        cursor.execute("INSERT INTO shop_customer (name, fax) VALUES ('a', '1'), ('b', '2')")
    migrate(sqlite_file, fix_migrations(fix.code), state)
    with sqlite_file.cursor() as cursor:
        cursor.execute("SELECT token FROM shop_customer")
        tokens = [row[0] for row in cursor.fetchall()]
        assert len(tokens) == 2 and None not in tokens and len(set(tokens)) == 2
        constraints = sqlite_file.introspection.get_constraints(cursor, "shop_customer")
    assert any(c["unique"] and c["columns"] == ["token"] for c in constraints.values())
