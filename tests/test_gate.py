"""The pre-deploy gate (--pending) on the real server: read-only, bounded, and size-aware."""

from __future__ import annotations

import json

import pytest

from tests.test_gate_support import admin, database, migrate, project, role, write_counters

ADD_INDEX = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx"))]
"""


def fill_books(dbname: str, rows: int, *, analyse: bool = True) -> None:
    with admin(dbname) as conn:
        if not analyse:
            # Keep autovacuum away so the table stays "never analysed" (reltuples = -1).
            conn.execute("ALTER TABLE library_book SET (autovacuum_enabled = false)")
        (has_points,) = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'library_book'::regclass AND attname = 'points'"
        ).fetchone()
        columns, values = ("title, points", "'book ' || g, 0") if has_points else ("title", "'book ' || g")
        conn.execute(
            f"INSERT INTO library_book ({columns}) SELECT {values} FROM generate_series(1, %s) g", [rows]
        )
        if analyse:
            conn.execute("VACUUM ANALYZE library_book")


def test_gate_runs_as_a_role_that_can_only_read_the_catalog_and_django_migrations(tmp_path):
    with role() as reader, database() as name:  # the database goes first
        made = project(tmp_path, name)
        migrate(made, "auth")
        migrate(made, "library", "0001")
        fill_books(name, 2000)
        with admin(name) as conn:
            # Nothing but CONNECT and SELECT on django_migrations (PUBLIC loses its
            # database-wide TEMP/CONNECT so the role really has nothing else).
            conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{reader}"')
            conn.execute(f'GRANT SELECT ON django_migrations TO "{reader}"')
        with admin(name, user=reader) as as_reader:  # the role really is that poor
            with pytest.raises(Exception, match="permission denied"):
                as_reader.execute("SELECT 1 FROM library_book")
            with pytest.raises(Exception, match="permission denied"):
                as_reader.execute("DELETE FROM django_migrations WHERE false")
        settings = made.root / "proj_settings.py"
        settings.write_text(settings.read_text() + f'\nDATABASES["default"]["USER"] = {reader!r}\n')

        done = made.run("--pending", "--format", "json")

        assert done.returncode == 1, done.stderr
        data = json.loads(done.stdout)
        assert data["target"]["mode"] == "pending"
        library = [f for f in data["findings"] if f["app_label"] == "library"]
        assert [f["rule"] for f in library] == ["SM205"]
        (finding,) = library
        assert finding["table_size"]["rows"] == 2000 and finding["table_size"]["bytes"] > 0


@pytest.mark.parametrize("trace", [False, True], ids=["pending", "pending+trace"])
def test_the_target_statistics_show_no_write_from_the_gate(tmp_path, trace):
    with database() as name:
        made = project(tmp_path, name)
        made.write("0004_book_title_idx", ADD_INDEX)
        migrate(made, "auth")
        migrate(made, "library", "0001")
        fill_books(name, 3000)
        before = write_counters(name)

        done = made.run(
            "--pending", *(["--trace"] if trace else []), "--format", "json", "--fail-on", "never"
        )

        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["findings"], "the gate did run"
        if trace:
            assert data["trace"]["cleanup"] == "dropped"
        after = write_counters(name)
        inserted, updated, deleted, commits, rollbacks = before["database"]
        assert after["database"][:3] == (inserted, updated, deleted)
        assert after["database"][3] > commits  # the gate's read-only transactions were counted
        assert after["database"][4] == rollbacks
        for table, counts in before["tables"].items():
            writes = counts[:4]
            assert after["tables"][table][:4] == writes, table
        # No COUNT(*) either: the sizes come from the catalogue, library_book was never scanned.
        assert after["tables"]["library_book"][4] == before["tables"]["library_book"][4]

        # The same measurement does see a write (so the equalities above mean something).
        with admin(name) as conn:
            conn.execute("INSERT INTO library_book (title) VALUES ('one more')")
        assert write_counters(name)["database"][0] == inserted + 1


def test_a_locked_table_makes_the_gate_give_up_fast_with_one_line(tmp_path):
    with database() as name:
        made = project(tmp_path, name)
        migrate(made, "auth")
        migrate(made, "library", "0001")
        settings = made.root / "proj_settings.py"
        settings.write_text(settings.read_text() + '\nSAFE_MIGRATIONS["GATE_LOCK_TIMEOUT"] = "300ms"\n')
        with admin(name) as holder:
            # A migration holding ACCESS EXCLUSIVE on django_migrations: the gate must not
            # queue behind it (and in front of everybody else) for longer than its lock_timeout.
            holder.execute("BEGIN")
            holder.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
            done = made.run("--pending")
            holder.execute("ROLLBACK")
        assert done.returncode == 3, done.stdout + done.stderr
        assert "database 'default': canceling statement due to lock timeout" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr


def test_table_size_drives_the_severity_of_size_scaled_rules(tmp_path):
    with database() as name:
        made = project(tmp_path, name)
        migrate(made)
        made.write("0004_book_title_idx", ADD_INDEX)
        fill_books(name, 3000)

        small = made.run("--pending", "--no-color")
        assert small.returncode == 0, small.stdout  # the only finding is now a warning
        assert "SM101 create-index-non-concurrently [warning]" in small.stdout
        assert "lock: SHARE on library_book (3,000 rows, " in small.stdout
        assert (
            "severity: warning, not error: library_book holds 3,000 rows, under SIZE_THRESHOLDS "
            "small_rows (10,000)" in small.stdout
        )

        settings = made.root / "proj_settings.py"
        settings.write_text(
            settings.read_text()
            + '\nSAFE_MIGRATIONS["SIZE_THRESHOLDS"] = {"SMALL_ROWS": 100, "LARGE_ROWS": 1000}\n'
        )
        big = json.loads(made.run("--pending", "--format", "json").stdout)
        (finding,) = big["findings"]
        assert finding["rule"] == "SM101" and finding["severity"] == "error"
        assert finding["severity_note"] is None  # the rule's own severity
        assert finding["table_size"]["rows"] == 3000


def test_a_warning_becomes_an_error_on_a_big_table(tmp_path):
    with database() as name:
        made = project(
            tmp_path,
            name,
            """
            SAFE_MIGRATIONS["SELECT"] = ["SM105"]
            SAFE_MIGRATIONS["SIZE_THRESHOLDS"] = {"small_rows": 10, "large_rows": 1000}
            """,
        )
        migrate(made)
        made.write(
            "0004_book_parent",
            """
            from django.db import migrations, models


            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title")]
                operations = [
                    migrations.AddField(
                        "book", "parent", models.ForeignKey("library.Book", models.SET_NULL, null=True)
                    ),
                ]
            """,
        )
        fill_books(name, 3000)
        offline = json.loads(made.run("library", "0004", "--format", "json").stdout)
        assert [f["severity"] for f in offline["findings"]] == ["warning"]
        data = json.loads(made.run("--pending", "--format", "json").stdout)
        (finding,) = data["findings"]
        assert finding["rule"] == "SM105" and finding["severity"] == "error"
        assert finding["severity_note"].startswith("error, not warning: library_book holds 3,000 rows")


def test_a_table_never_analysed_is_unknown_and_estimated_without_counting(tmp_path):
    with database() as name:
        made = project(tmp_path, name)
        migrate(made)
        made.write("0004_book_title_idx", ADD_INDEX)
        fill_books(name, 5000, analyse=False)
        before = write_counters(name)["tables"]["library_book"]

        done = made.run("--pending", "--no-color")
        data = json.loads(made.run("--pending", "--format", "json").stdout)

        assert "lock: SHARE on library_book (rows unknown (never analysed; ~" in done.stdout
        (finding,) = data["findings"]
        size = finding["table_size"]
        assert size["rows"] is None
        assert 1000 <= size["estimated_rows"] <= 50000  # the order of magnitude, from its size alone
        assert finding["severity"] == "warning"  # ~5,000 < 10,000 small_rows
        after = write_counters(name)["tables"]["library_book"]
        assert after[4] == before[4]  # still no sequential scan of the table: nothing counted it


def test_a_table_created_by_a_pending_migration_has_no_size(tmp_path):
    with database() as name:
        made = project(tmp_path, name)
        made.write("0004_book_title_idx", ADD_INDEX)
        migrate(made, "contenttypes")  # library_book does not exist on the target yet
        data = json.loads(made.run("--pending", "--format", "json", "--fail-on", "never").stdout)
        library = [f for f in data["findings"] if f["app_label"] == "library"]
        assert library and all(f["table_size"] is None for f in library)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('{"SMALL_ROWS": -1}', "SAFE_MIGRATIONS['SIZE_THRESHOLDS']['SMALL_ROWS'] must be a row count"),
        ('{"SMALL_ROWS": 10, "LARGE_ROWS": 5}', "SMALL_ROWS must not exceed LARGE_ROWS"),
        ('{"HUGE": 1}', "SAFE_MIGRATIONS['SIZE_THRESHOLDS']: unknown key(s) HUGE"),
        ('"big"', "SAFE_MIGRATIONS['SIZE_THRESHOLDS'] must be a mapping"),
    ],
)
def test_bad_size_thresholds_are_a_usage_error(tmp_path, setting, message):
    made = project(tmp_path, "unused", f'\nSAFE_MIGRATIONS["SIZE_THRESHOLDS"] = {setting}\n')
    done = made.run()
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_every_query_runs_in_a_read_only_transaction_with_the_timeouts(django_db_blocker):
    """The guard itself, in process: what the server says about the session it is in."""
    import psycopg.errors
    from django.db import DatabaseError, connections, transaction
    from django.db.utils import load_backend

    from safe_migrations.gate import readonly

    with database() as name, django_db_blocker.unblock():
        alias = "gate_probe"
        base = {**connections["default"].settings_dict, "NAME": name}
        connections[alias] = load_backend(base["ENGINE"]).DatabaseWrapper(base, alias)
        try:
            with readonly.target(alias, statement_timeout_ms=1500, lock_timeout_ms=250) as conn:
                with conn.cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
                        " current_setting('lock_timeout'), now()"
                    )
                    *session, started = cursor.fetchone()
                    assert session == ["on", "1500ms", "250ms"]
                    cursor.execute("SELECT now()")
                    assert cursor.fetchone()[0] > started  # each query had a transaction of its own
                    with pytest.raises(DatabaseError, match="read-only transaction"):
                        cursor.execute("CREATE TABLE gate_probe_table (id int)")
                    cursor.execute("SELECT current_setting('statement_timeout')")  # not stuck in a failed tx
                    assert cursor.fetchone() == ("1500ms",)
                with transaction.atomic(using=alias), conn.cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('transaction_read_only'), current_setting('lock_timeout')"
                    )
                    assert cursor.fetchone() == ("on", "250ms")
                with conn.cursor() as cursor, pytest.raises(DatabaseError) as caught:
                    cursor.execute("SELECT pg_sleep(5)")
                assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
            assert connections[alias] is not conn  # the original wrapper is back
        finally:
            connections[alias].close()
            del connections[alias]


def test_a_partitioned_table_is_the_sum_of_its_partitions(tmp_path):
    with database() as name:
        made = project(tmp_path, name)
        migrate(made)
        with admin(name) as conn:
            conn.execute("CREATE TABLE measure (id bigint, day date) PARTITION BY RANGE (day)")
            conn.execute(
                "CREATE TABLE measure_2025 PARTITION OF measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
            )
            conn.execute(
                "CREATE TABLE measure_2026 PARTITION OF measure FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
            )
            conn.execute(
                "INSERT INTO measure SELECT g, date '2025-06-01' + (g % 400) FROM generate_series(1, 4000) g"
            )
            conn.execute("VACUUM ANALYZE measure_2025, measure_2026")
        made.write(
            "0004_measure_day_idx",
            """
            from django.db import migrations


            class Migration(migrations.Migration):
                dependencies = [("library", "0003_grow_title")]
                operations = [
                    migrations.RunSQL('CREATE INDEX "measure_day_idx" ON "measure" ("day")', migrations.RunSQL.noop),
                ]
            """,
        )
        data = json.loads(made.run("--pending", "--format", "json").stdout)
        (finding,) = [f for f in data["findings"] if f["rule"] == "SM101"]
        assert finding["table"] == "measure"
        assert finding["table_size"]["rows"] == 4000 and finding["table_size"]["bytes"] > 2 * 8192
