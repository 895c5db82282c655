import django
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM108",)


def not_null_check():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    return models.CheckConstraint(**{keyword: models.Q(phone__isnull=False)}, name="customer_phone_notnull")


def test_docs_example_alter_field_to_not_null_is_flagged():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20))],
        select=SELECT,
    )
    assert result.codes() == ["SM108"]
    finding = result.last[0]
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_customer"
    assert "AddConstraintNotValid" in finding.fix.code and "ValidateConstraint" in finding.fix.code


def test_django_inline_update_is_mentioned():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20, default="none"))],
        select=SELECT,
    )
    assert any(s.startswith("UPDATE") for s in result.sql())
    assert "updates every NULL row" in result.last[0].message


def test_use_instead_check_then_set_not_null_passes_on_pg12_plus():
    check = not_null_check()
    result = run(
        initial(),
        [migrations.AddConstraint("customer", check)],
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20))],
        select=SELECT,
    )
    assert result.codes() == []


def test_check_does_not_help_before_pg12():
    check = not_null_check()
    result = run(
        initial(),
        [migrations.AddConstraint("customer", check)],
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20))],
        select=SELECT,
        pg_version=11,
    )
    assert result.codes() == ["SM108"]
    assert "skip SET NOT NULL" in " ".join(result.last[0].fix.steps)


def test_fix_follows_pg18_not_valid_not_null():
    result = run(
        initial(),
        [migrations.AlterField("customer", "phone", models.CharField(max_length=20))],
        select=SELECT,
        pg_version=18,
    )
    assert "NOT NULL" in result.last[0].fix.code and "NOT VALID" in result.last[0].fix.code
    assert "AddConstraintNotValid" not in result.last[0].fix.code


def test_not_null_on_new_table_passes():
    result = run(initial(), select=SELECT)
    assert result.codes(all_migrations=True) == []


def _runsql_check(validate: bool) -> list[object]:
    add = migrations.RunSQL(
        'ALTER TABLE "shop_customer" ADD CONSTRAINT "customer_age_nn" CHECK ("age" IS NOT NULL) NOT VALID',
        migrations.RunSQL.noop,
    )
    steps: list[object] = [[add]]
    if validate:
        steps.append([migrations.RunSQL('ALTER TABLE "shop_customer" VALIDATE CONSTRAINT "customer_age_nn"')])
    return steps


def test_check_validated_by_hand_written_sql_lets_pg12_skip_the_scan():
    set_nn = [migrations.AlterField("customer", "age", models.IntegerField())]
    assert run(initial(), *_runsql_check(validate=True), set_nn, select=("SM108",)).codes() == []
    raw = [migrations.RunSQL('ALTER TABLE "shop_customer" ALTER COLUMN "age" SET NOT NULL')]
    assert run(initial(), *_runsql_check(validate=True), raw, select=("SM108",)).codes() == []


def test_not_valid_check_or_old_server_still_scans():
    set_nn = [migrations.AlterField("customer", "age", models.IntegerField())]
    assert run(initial(), *_runsql_check(validate=False), set_nn, select=("SM108",)).codes() == ["SM108"]
    older = run(initial(), *_runsql_check(validate=True), set_nn, select=("SM108",), pg_version=11)
    assert older.codes() == ["SM108"]


def test_hand_written_set_not_null_on_a_schema_qualified_table_trusts_the_models_check():
    # R5 step C on a model whose db_table is '"accounting"."entries"'.
    model = migrations.CreateModel(
        "Entry",
        [("id", models.BigAutoField(primary_key=True)), ("points", models.IntegerField(null=True))],
        options={"db_table": '"accounting"."entries"'},
    )
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    check = models.CheckConstraint(**{keyword: models.Q(points__isnull=False)}, name="entry_points_nn")
    step_c = migrations.SeparateDatabaseAndState(
        database_operations=[
            migrations.RunSQL('ALTER TABLE "accounting"."entries" ALTER COLUMN "points" SET NOT NULL')
        ],
        state_operations=[migrations.AlterField("entry", "points", models.IntegerField())],
    )
    with_check = run([model], [migrations.AddConstraint("entry", check)], [step_c], select=("SM108",))
    assert with_check.codes() == []
    assert run([model], [step_c], select=("SM108",)).codes() == ["SM108"]


def test_not_null_constraint_syntax_needs_postgresql_18():
    add = migrations.RunSQL('ALTER TABLE "shop_customer" ADD CONSTRAINT "age_nn" NOT NULL "age" NOT VALID')
    [finding] = run(initial(), [add], select=("SM108",), pg_version=15).last
    assert "PostgreSQL 18 syntax" in finding.message and finding.severity.label == "error"
    assert run(initial(), [add], select=("SM108",), pg_version=18).codes() == []
