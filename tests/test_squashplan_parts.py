"""The squash modules one at a time: git ages, the schedule, the catalog and state comparisons,
scratch databases, and what MigrationWriter cannot write."""

from __future__ import annotations

import contextlib
import os
import subprocess
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from django.db import connections, migrations, models
from django.db.migrations.state import ModelState, ProjectState

from safe_migrations.conf import SquashThresholds
from safe_migrations.squash import blockers, catalog, history, schedule, scratch, state

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
ADMIN = {"host": "127.0.0.1", "user": "postgres", "dbname": "postgres", "autocommit": True}


def _git(root, *args, days_ago=None):
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if days_ago is not None:
        stamp = int((NOW - timedelta(days=days_ago)).timestamp())
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{stamp} +0000"
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root, env=env, check=True)


def test_git_ages_follow_renames_and_restart_after_a_delete(tmp_path):
    folder = tmp_path / "app" / "migrations"
    folder.mkdir(parents=True)
    _git(tmp_path, "init", "-q")
    (folder / "0001_initial.py").write_text("# one\n" * 20)
    (folder / "0002_old_name.py").write_text("# two\n" * 20)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "first", days_ago=100)
    _git(tmp_path, "mv", "app/migrations/0002_old_name.py", "app/migrations/0002_new_name.py")
    _git(tmp_path, "commit", "-qm", "rename", days_ago=50)
    _git(tmp_path, "rm", "-q", "app/migrations/0001_initial.py")
    _git(tmp_path, "commit", "-qm", "delete", days_ago=40)
    (folder / "0001_initial.py").write_text("# again\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "re-add", days_ago=10)
    (folder / "0003_untracked.py").write_text("")
    os.utime(folder / "0003_untracked.py", ((NOW - timedelta(days=3)).timestamp(),) * 2)

    files = {
        ("app", "0001_initial"): folder / "0001_initial.py",
        ("app", "0002_new_name"): folder / "0002_new_name.py",
        ("app", "0003_untracked"): folder / "0003_untracked.py",
    }
    found = history.load(files, tmp_path)
    assert found.notes == ()
    assert {k[1]: (found.age_days(k, NOW), a.source) for k, a in found.added.items()} == {
        "0001_initial": (10, "git"),  # added again after its deletion
        "0002_new_name": (100, "git"),  # the rename keeps the first add
        "0003_untracked": (3, "mtime"),  # git does not know it yet
    }
    # Added within the last 90 days: 0001 (10 days) and 0003 (3 days); 0002 is 100 days old.
    assert found.rate_per_month(files, NOW, 90) == pytest.approx(2 * history.MONTH_DAYS / 90)


def test_shallow_clone_is_noted(tmp_path):
    origin = tmp_path / "origin"
    (origin / "migrations").mkdir(parents=True)
    _git(origin, "init", "-q")
    for n in range(2):
        (origin / "migrations" / f"000{n}_x.py").write_text(str(n))
        _git(origin, "add", "-A")
        _git(origin, "commit", "-qm", str(n), days_ago=100 - n)
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(tmp_path / "clone")], check=True
    )
    clone = tmp_path / "clone"
    found = history.load({("a", "0000_x"): clone / "migrations" / "0000_x.py"}, clone)
    assert any("shallow" in note for note in found.notes)


@pytest.mark.parametrize(
    ("since", "age", "due"),
    [(4, 60, True), (3, 999, False), (4, 59, False), (4, None, False), (50, 60, True)],
)
def test_due_needs_both_thresholds(since, age, due):
    assert schedule.is_due(since, age, SquashThresholds(count=4, age_days=60)) is due


def test_a_single_migration_is_never_due():
    assert schedule.is_due(1, 999, SquashThresholds(count=0, age_days=0)) is False


def test_due_at_takes_the_later_of_count_and_age():
    t = SquashThresholds(count=10, age_days=180)
    # 4 missing at 2 a month: 2 months; the oldest (added 30 days ago) is old enough in 150 days.
    at = schedule.due_at(6, NOW - timedelta(days=30), 2.0, NOW, t)
    assert at == NOW + timedelta(days=150)
    at = schedule.due_at(6, NOW - timedelta(days=400), 2.0, NOW, t)
    assert at == NOW + timedelta(days=2 * history.MONTH_DAYS)
    assert schedule.due_at(6, NOW - timedelta(days=400), 0.0, NOW, t) is None
    # Nothing since the last squash: the first new one is expected in 1/rate months.
    at = schedule.due_at(0, None, 10.0, NOW, SquashThresholds(count=2, age_days=30))
    assert at == NOW + timedelta(days=history.MONTH_DAYS / 10 + 30)


def _catalog(**changes):
    base = {
        "relations": {("public", "t"): ("r", "p", None, None)},
        "columns": {("public", "t", "id"): ("bigint", True, None, "d", "", None, None)},
        "indexes": catalog.Counter({("public", "t", "CREATE UNIQUE INDEX ON public.t USING btree (id)"): 1}),
        "index_names": {("public", "t", "CREATE UNIQUE INDEX ON public.t USING btree (id)"): ("t_pkey",)},
    }
    base.update(changes)
    return catalog.Catalog(**base)


def test_catalog_compare_reports_real_differences_and_notes_names():
    same, notes = catalog.compare(_catalog(), _catalog())
    assert (same, notes) == ([], [])
    renamed = _catalog(
        index_names={("public", "t", "CREATE UNIQUE INDEX ON public.t USING btree (id)"): ("old_pkey",)}
    )
    diffs, notes = catalog.compare(_catalog(), renamed)
    assert diffs == []
    assert notes == ["index on public.t named t_pkey originally, old_pkey squashed"]
    nullable = _catalog(columns={("public", "t", "id"): ("bigint", False, None, "d", "", None, None)})
    diffs, _ = catalog.compare(_catalog(), nullable)
    assert diffs == [
        "column public.t.id: original bigint NOT NULL IDENTITY BY DEFAULT; squashed bigint NULL IDENTITY BY DEFAULT"
    ]


def test_state_differences_name_the_field_and_option():
    def project(max_length, ordering):
        s = ProjectState()
        s.add_model(
            ModelState(
                "shop",
                "Item",
                [
                    ("id", models.BigAutoField(primary_key=True)),
                    ("name", models.CharField(max_length=max_length)),
                ],
                {"ordering": ordering},
            )
        )
        return s

    assert state.differences(project(10, ["name"]), project(10, ["name"])) == []
    assert state.differences(project(10, ["name"]), project(20, ["-name"])) == [
        "field shop.item.name: original CharField(max_length=10), squashed CharField(max_length=20)",
        "option shop.item.ordering: original ['name'], squashed ['-name']",
    ]


def _module_level(apps, schema_editor):
    pass


def test_runpython_the_squash_cannot_write_is_a_blocker():
    def nested(apps, schema_editor):
        pass

    in_migration = type(_module_level)(_module_level.__code__, {"__name__": "shop.migrations.0002_x"}, "fill")
    cases = {
        "lambda": migrations.RunPython(lambda a, s: None),
        "nested": migrations.RunPython(nested),
        "migration": migrations.RunPython(in_migration),
        "importable": migrations.RunPython(_module_level, migrations.RunPython.noop),
        "elidable": migrations.RunPython(in_migration, elidable=True),
    }
    kinds = {}
    for name, operation in cases.items():
        migration = migrations.Migration("0002_x", "shop")
        migration.operations = [operation]
        kinds[name] = [(n.level, n.kind) for n in blockers.operation_notes("0002_x", migration)]
    assert kinds == {
        "lambda": [("blocker", "manual-porting")],
        "nested": [("blocker", "manual-porting")],
        "migration": [("blocker", "manual-porting")],
        "importable": [("caution", "kept-runpython")],
        "elidable": [("info", "elided")],
    }


def _exists(name):
    with psycopg.connect(**ADMIN) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def test_scratch_database_is_dropped_on_interrupt_and_name_restored(django_db_blocker):
    with django_db_blocker.unblock():
        original = connections["default"].settings_dict["NAME"]
        seen = []
        with pytest.raises(KeyboardInterrupt), scratch.scratch_database("default") as alias:
            name = connections[alias].settings_dict["NAME"]
            seen.append(name)
            assert name.startswith("sm_squash_") and _exists(name)
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE t (id bigint PRIMARY KEY, title varchar(20) NOT NULL DEFAULT 'x')"
                )
                cursor.execute("CREATE INDEX t_title ON t (upper(title))")
            snap = catalog.snapshot(connections[alias])
            assert snap.columns[("public", "t", "title")][:3] == (
                "character varying(20)",
                True,
                "'x'::character varying",
            )
            assert snap.index_names[
                ("public", "t", "CREATE INDEX ON public.t USING btree (upper((title)::text))")
            ] == ("t_title",)
            assert snap.summary() == "1 tables, 2 columns, 2 indexes, 1 constraints"
            raise KeyboardInterrupt
        assert not _exists(seen[0])
        assert connections["default"].settings_dict["NAME"] == original


def test_another_scratch_alias_takes_default_along(django_db_blocker):
    """Data migrations that ignore the alias write to "default": it must not be the real one."""
    with django_db_blocker.unblock():
        real_default = connections["default"]
        connections.settings["scratch"] = dict(real_default.settings_dict)
        try:
            with scratch.scratch_database("scratch") as alias:
                name = connections[alias].settings_dict["NAME"]
                assert connections["default"].settings_dict["NAME"] == name
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT current_database()")
                    assert cursor.fetchone()[0] == name
            assert connections["default"] is real_default
            assert not _exists(name)
        finally:
            connections.settings.pop("scratch", None)
            with contextlib.suppress(AttributeError):
                del connections["scratch"]
