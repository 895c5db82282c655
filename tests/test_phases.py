"""Deploy phases: pre-deploy, post-deploy, must-split, judged against the running release."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import django
import psycopg
import pytest
from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models

from safe_migrations.findings import Phase
from safe_migrations.phases import RunningRelease, classify
from tests.bluegreen.db import HOST, PORT, USER, scratch_database
from tests.conftest import initial
from tests.harness import Mig, run
from tests.project import REPO, make_project


def _check(condition: models.Q, name: str) -> models.CheckConstraint:
    """CheckConstraint's argument is ``condition`` from Django 5.1, ``check`` before."""
    key = "condition" if django.VERSION >= (5, 1) else "check"
    return models.CheckConstraint(**{key: condition, "name": name})


def phases(*history: Mig | list[object]) -> list[Phase]:
    result = run(initial(), *history)
    out = []
    for migration in result.collected[1:]:
        found = [f for f in result.findings if f.location.migration == migration.name]
        out.append(classify(migration, found).phase)
    return out


def test_expand_steps_are_pre_deploy():
    history = [
        [migrations.AddField("customer", "nickname", models.CharField(max_length=20, null=True))],
        [migrations.CreateModel("Coupon", [("id", models.BigAutoField(primary_key=True))])],
    ]
    if django.VERSION >= (5, 0):  # a NOT NULL column whose default the database keeps
        history.append([migrations.AddField("customer", "active", models.BooleanField(db_default=True))])
    assert phases(*history) == [Phase.PRE_DEPLOY] * len(history)


def test_drop_of_a_column_the_state_still_has_is_must_split():
    assert phases([migrations.RemoveField("customer", "fax")]) == [Phase.MUST_SPLIT]


def test_two_release_drop_is_pre_then_post():
    remove_from_state = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
    )
    drop = migrations.RunSQL(
        'ALTER TABLE "shop_customer" DROP COLUMN IF EXISTS "fax"',
        'ALTER TABLE "shop_customer" ADD COLUMN IF NOT EXISTS "fax" varchar(20) NULL',
    )
    result = run(initial(), [remove_from_state], [drop])
    codes = {f.rule for f in result.findings if f.severity.label == "error"}
    assert "SM201" not in codes  # the contract step is not an error
    last = result.collected[-1]
    found = classify(last, result.last)
    assert found.phase is Phase.POST_DEPLOY
    assert "shop_customer.fax" in found.reason
    assert classify(result.collected[1], []).phase is Phase.PRE_DEPLOY


def test_contract_and_expand_in_one_migration_must_split():
    remove_from_state = migrations.SeparateDatabaseAndState(
        state_operations=[migrations.RemoveField("customer", "fax")], database_operations=[]
    )
    mixed = [
        migrations.RunSQL('ALTER TABLE "shop_customer" DROP COLUMN "fax"', migrations.RunSQL.noop),
        migrations.AddField("customer", "nickname", models.CharField(max_length=20, null=True)),
    ]
    result = run(initial(), [remove_from_state], mixed)
    found = classify(result.collected[-1], result.last)
    assert found.phase is Phase.MUST_SPLIT
    assert "post-deploy" in found.reason and "pre-deploy" in found.reason


def test_marker_makes_a_migration_post_deploy():
    marked = Mig(
        [migrations.AlterField("customer", "code", models.CharField(max_length=10))],
        attrs={"safe_migrations_phase": "post-deploy"},
    )
    assert phases(marked) == [Phase.POST_DEPLOY]


def test_suppressed_error_does_not_force_a_split():
    acknowledged = Mig(
        [migrations.RemoveField("customer", "fax")],
        attrs={"safe_migrations_ignore": {"SM201": "never read by released code"}},
    )
    assert phases(acknowledged) == [Phase.PRE_DEPLOY]


def test_lock_hazard_is_must_split():
    assert phases(
        [migrations.AddIndex("customer", models.Index(fields=["name"], name="customer_name_idx"))]
    ) == [Phase.MUST_SPLIT]


def _age_not_null():
    check = _check(models.Q(age__isnull=False), "customer_age_nn")
    return AddConstraintNotValid("customer", check)


def test_not_valid_check_old_code_can_violate_is_post_deploy():
    runsql = migrations.RunSQL(
        "ALTER TABLE shop_customer ADD CONSTRAINT customer_age_pos CHECK (age >= 0) NOT VALID",
        "ALTER TABLE shop_customer DROP CONSTRAINT customer_age_pos",
    )
    result = run(initial(), [_age_not_null()], [runsql])
    for migration in result.collected[1:]:
        found = [f for f in result.findings if f.location.migration == migration.name]
        classified = classify(migration, found)
        assert classified.phase is Phase.POST_DEPLOY, classified
        assert "NOT VALID CHECK constraint customer_age_" in classified.reason
        assert "on shop_customer" in classified.reason


def test_not_valid_check_with_a_new_column_must_split():
    result = run(
        initial(),
        [
            migrations.AddField("customer", "nickname", models.CharField(max_length=20, null=True)),
            _age_not_null(),
        ],
    )
    assert classify(result.collected[-1], result.last).phase is Phase.MUST_SPLIT


def test_not_null_check_the_running_release_always_satisfies_is_pre_deploy():
    check = _check(models.Q(name__isnull=False), "customer_name_nn")
    result = run(initial(), [AddConstraintNotValid("customer", check)], [_age_not_null()])
    columns = frozenset({"id", "name", "phone", "fax", "code", "age"})
    running = RunningRelease(
        "applied migrations",
        {"shop_customer": columns},
        frozenset(),
        not_null={"shop_customer": frozenset({"id", "name", "code"})},
    )
    name_check, age_check = result.collected[1], result.collected[2]
    assert classify(name_check, [], running).phase is Phase.PRE_DEPLOY  # name is NOT NULL already
    assert classify(age_check, [], running).phase is Phase.POST_DEPLOY  # release N writes NULL ages
    unused = RunningRelease("applied migrations", {}, frozenset({"shop_customer"}))
    assert classify(age_check, [], unused).phase is Phase.PRE_DEPLOY  # a table only new code uses


def test_not_valid_check_rejects_the_running_release_insert_on_postgres():
    """Why the step is post-deploy: NOT VALID skips the existing rows only."""
    result = run(initial(), [_age_not_null()])
    with scratch_database("sm_rules_ph") as name:
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=name, autocommit=True) as conn:
            for migration in result.collected:
                for statement in migration.statements:
                    conn.execute(statement.sql)
            # Release N's model has age null=True: its INSERT leaves age NULL.
            insert = "INSERT INTO shop_customer (name, phone, fax, code, age) VALUES ('ann', NULL, NULL, 'x', NULL)"
            with pytest.raises(psycopg.errors.CheckViolation, match="customer_age_nn"):
                conn.execute(insert)


# --- the running release: --pending and --since -------------------------------------------

ADD_NICKNAME = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [migrations.AddField("book", "nickname", models.CharField(max_length=20, null=True))]
"""

DROP_NICKNAME = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("library", "0004_book_nickname")]
    operations = [migrations.RemoveField("book", "nickname")]
"""

FORGET_FAX = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("library", "0003_grow_title")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField("book", "fax")], database_operations=[]
        ),
    ]
"""

DROP_FAX = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("library", "0004_forget_fax")]
    operations = [
        migrations.RunSQL(
            'ALTER TABLE "library_book" DROP COLUMN IF EXISTS "fax"',
            'ALTER TABLE "library_book" ADD COLUMN IF NOT EXISTS "fax" varchar(20) NULL',
        ),
    ]
"""


def _migrate(project, *target: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", *target, "-v", "0"],
        cwd=project.root,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proj_settings",
            "PYTHONPATH": os.pathsep.join([str(project.root), str(REPO)]),
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _phases(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str]]:
    data = json.loads(done.stdout)
    return {m["name"]: (m["phase"], m["phase_reason"]) for m in data["migrations"]}


def test_pending_judges_against_the_applied_state(tmp_path):
    with scratch_database("sm_ph") as name:
        project = make_project(tmp_path, db_name=name)
        project.write("0004_book_nickname", ADD_NICKNAME)
        project.write("0005_drop_nickname", DROP_NICKNAME)
        _migrate(project, "library", "0003")
        done = project.run("--pending", "--format", "json", "--fail-on", "never")
        found = _phases(done)
        # The running release never had `nickname`: dropping it hurts no live request,
        # although the rule (which judges against the state just before) still reports it.
        assert found["0005_drop_nickname"][0] == "pre-deploy"
        assert "running release (applied migrations)" in found["0005_drop_nickname"][1]
        assert {f["rule"] for f in json.loads(done.stdout)["findings"]} >= {"SM201"}
        # Linted without a database, the state before 0005 has the column: must split.
        offline = _phases(project.run("library", "--format", "json", "--fail-on", "never"))
        assert offline["0005_drop_nickname"][0] == "must-split"


def test_pending_drop_after_state_removal_is_post_deploy(tmp_path):
    with scratch_database("sm_ph") as name:
        project = make_project(tmp_path, db_name=name)
        project.write("0004_forget_fax", FORGET_FAX)
        project.write("0005_drop_fax", DROP_FAX)
        _migrate(project, "library", "0004")
        done = project.run("--pending", "--format", "json", "--fail-on", "never")
        assert done.returncode == 0, done.stdout + done.stderr
        phase, reason = _phases(done)["0005_drop_fax"]
        assert phase == "post-deploy"
        assert "library_book.fax" in reason


def test_since_judges_against_the_base_ref(tmp_path):
    project = make_project(tmp_path)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project.root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=project.root, check=True)
    project.write("0004_book_nickname", ADD_NICKNAME)
    project.write("0005_drop_nickname", DROP_NICKNAME)
    done = project.run("--since", "main", "--format", "json", "--fail-on", "never")
    found = _phases(done)
    assert found["0004_book_nickname"][0] == "pre-deploy"
    assert found["0005_drop_nickname"][0] == "pre-deploy"  # the base release never had the column
    assert "base ref" in found["0005_drop_nickname"][1]


def test_text_output_counts_phases(tmp_path):
    project = make_project(tmp_path)
    done = project.run("--no-color")
    assert "phases: 2 pre-deploy, 1 must-split (--plan shows the safe sequence)" in done.stdout


@pytest.mark.skipif(
    django.VERSION < (5, 0), reason="Django 4.2's SQLite editor queries the database to generate this SQL"
)
def test_pre_deploy_on_another_engine_does_not_claim_brief_locks():
    step = [migrations.AddField("customer", "nickname", models.CharField(max_length=20, null=True))]
    for database, reason in (("default", "every lock is brief"), ("sqlite", "locks are not judged")):
        result = run(initial(), step, database=database, select=("SM201",))
        migration = result.collected[-1]
        found = [f for f in result.findings if f.location.migration == migration.name]
        classification = classify(migration, found)
        assert classification.phase == Phase.PRE_DEPLOY
        assert reason in classification.reason
