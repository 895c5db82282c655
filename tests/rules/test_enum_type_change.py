from django.db import migrations

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM209",)


def test_docs_example_rename_value_is_flagged():
    result = run(
        initial(), [migrations.RunSQL("ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'")], select=SELECT
    )
    assert result.codes() == ["SM209"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.lock is None  # enum changes take no table lock
    assert "Renaming label 'sad' of enum mood to 'unhappy'" in finding.message
    assert "invalid input value for enum" in finding.message
    assert "ADD VALUE IF NOT EXISTS 'unhappy' AFTER 'sad'" in finding.fix.code
    assert "atomic = False" in finding.fix.code  # the batched move of the rows
    compile(result.last[0].fix.code, "fix", "exec")  # the fix is valid Python


def test_use_instead_positioned_add_value_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'unhappy' AFTER 'sad'", migrations.RunSQL.noop
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_add_value_without_position_is_a_warning():
    result = run(initial(), [migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh'")], select=SELECT)
    assert result.codes() == ["SM209"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert "appended last" in finding.message
    assert "ADD VALUE IF NOT EXISTS 'meh' AFTER" in finding.fix.code
    assert "atomic = False" not in finding.fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_add_value_in_a_transaction_before_pg12_is_an_error():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'")],
        select=SELECT,
        pg_version=11,
    )
    assert result.codes() == ["SM209"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert "PostgreSQL 11 refuses ALTER TYPE ... ADD VALUE inside a transaction block" in finding.message
    assert "atomic = False" in finding.fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_add_value_in_a_non_atomic_migration_before_pg12_passes():
    result = run(
        initial(),
        Mig([migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'")], atomic=False),
        select=SELECT,
        pg_version=11,
    )
    assert result.codes() == []


def test_using_the_new_label_in_the_same_transaction_is_an_error():
    result = run(
        initial(),
        [
            migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'"),
            migrations.RunSQL("UPDATE shop_customer SET name = 'meh' WHERE name = 'ok'"),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM209"]
    assert result.last[0].severity.label == "error"
    assert "unsafe use of new value" in result.last[0].message


def test_using_the_new_label_after_a_commit_passes():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok'"),
                migrations.RunSQL("UPDATE shop_customer SET name = 'meh' WHERE name = 'ok'"),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_create_enum_type_is_information():
    result = run(initial(), [migrations.RunSQL("CREATE TYPE mood AS ENUM ('ok', 'sad')")], select=SELECT)
    assert result.codes() == ["SM209"]
    finding = result.last[0]
    assert finding.severity.label == "info"
    assert "models.TextChoices" in finding.fix.code and "CheckConstraint" in finding.fix.code
    compile(result.last[0].fix.code, "fix", "exec")


def test_changes_to_a_type_created_in_the_same_migration_pass():
    result = run(
        initial(),
        [
            migrations.RunSQL("CREATE TYPE mood AS ENUM ('ok', 'sad')"),
            migrations.RunSQL("ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'"),
            migrations.RunSQL("ALTER TYPE mood ADD VALUE 'meh'"),
        ],
        select=SELECT,
    )
    assert [f.severity.label for f in result.last] == ["info"]  # only the CREATE TYPE


def test_type_rename_and_drop_are_not_this_rule():
    result = run(
        initial(),
        [migrations.RunSQL("ALTER TYPE mood RENAME TO feeling"), migrations.RunSQL("DROP TYPE feeling")],
        select=SELECT,
    )
    assert result.codes() == []
