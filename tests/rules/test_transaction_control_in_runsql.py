from django.db import migrations

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM306",)


def test_docs_example_begin_and_commit_in_an_atomic_migration_are_flagged():
    result = run(
        initial(), [migrations.RunSQL("BEGIN; UPDATE shop_order SET note = ''; COMMIT;")], select=SELECT
    )
    assert result.codes() == ["SM306", "SM306"]
    begin, commit = sorted(result.last, key=lambda f: f.location.sql)
    assert begin.location.sql == "BEGIN"
    assert begin.message.startswith("BEGIN inside the migration's transaction is ignored")
    assert commit.location.sql == "COMMIT"
    assert commit.message.startswith("COMMIT ends the transaction Django opened for the migration")
    assert commit.severity.label == "error"
    assert "migrations.RunSQL(\"UPDATE shop_order SET note = ''\", reverse_sql=...)" in commit.fix.code
    assert "BEGIN" not in commit.fix.code and "COMMIT;" not in commit.fix.code


def test_use_instead_plain_statement_passes():
    result = run(
        initial(),
        [migrations.RunSQL("UPDATE shop_order SET note = '' WHERE note IS NULL", migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert result.codes() == []


def test_each_committed_part_becomes_a_migration():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "UPDATE shop_order SET note = 'a'; COMMIT; UPDATE shop_order SET note = 'b'; COMMIT"
            )
        ],
        select=SELECT,
    )
    fix = result.last[0].fix.code
    assert "# migration 1:" in fix and "# migration 2:" in fix
    assert fix.index("note = 'a'") < fix.index("# migration 2:") < fix.index("note = 'b'")


def test_rollback_and_savepoints_in_an_atomic_migration_are_flagged():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "SAVEPOINT before_fix; UPDATE shop_order SET note = ''; ROLLBACK TO SAVEPOINT before_fix; ROLLBACK"
            )
        ],
        select=SELECT,
    )
    messages = sorted(f.message for f in result.last)
    assert len(messages) == 3
    assert messages[0].startswith("ROLLBACK TO SAVEPOINT silently discards part of the migration")
    assert messages[1].startswith("ROLLBACK silently undoes everything the migration did before it")
    assert messages[2].startswith("SAVEPOINT inside the migration's transaction")


def test_set_transaction_is_fine_only_as_the_first_statement():
    first = run(
        initial(),
        [migrations.RunSQL("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", migrations.RunSQL.noop)],
        select=SELECT,
    )
    assert first.codes() == []
    late = run(
        initial(),
        [
            migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
            migrations.RunSQL("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", migrations.RunSQL.noop),
        ],
        select=SELECT,
    )
    [finding] = late.last
    assert "must be called before any query" in finding.message


def test_prepared_transaction_is_flagged():
    result = run(initial(), [migrations.RunSQL("PREPARE TRANSACTION 'migration'")], select=SELECT)
    [finding] = result.last
    assert "keeps its locks until someone runs COMMIT PREPARED" in finding.message


def test_balanced_block_in_a_non_atomic_migration_passes():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    "BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
                    "UPDATE shop_order SET note = '' WHERE id = 1; SAVEPOINT s; RELEASE s; COMMIT",
                    migrations.RunSQL.noop,
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_begin_never_committed_in_a_non_atomic_migration_is_flagged():
    result = run(
        initial(),
        Mig(
            [migrations.RunSQL("BEGIN; UPDATE shop_order SET note = ''", migrations.RunSQL.noop)],
            atomic=False,
        ),
        select=SELECT,
    )
    [finding] = result.last
    assert finding.location.sql == "BEGIN"
    assert "never committed" in finding.message


def test_savepoint_and_set_transaction_outside_a_block_are_flagged_in_a_non_atomic_migration():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL(
                    "SAVEPOINT s; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", migrations.RunSQL.noop
                )
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    messages = sorted(f.message for f in result.last)
    assert messages[0].startswith("SAVEPOINT outside a transaction block fails")
    assert messages[1].startswith("SET TRANSACTION outside a transaction block has no effect")


def test_set_constraints_and_session_settings_are_not_transaction_control():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "SET LOCAL lock_timeout = '2s'; SET CONSTRAINTS ALL IMMEDIATE; "
                "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                migrations.RunSQL.noop,
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []
