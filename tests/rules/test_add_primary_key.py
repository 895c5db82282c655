import contextlib

import psycopg
import pytest
from django.db import migrations, models

from safe_migrations.rules.add_primary_key import AddPrimaryKey
from tests.bluegreen.db import HOST, PORT, USER, scratch_database
from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM112",)


def tags():
    return [
        migrations.CreateModel(
            "Tag",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("slug", models.CharField(max_length=50)),
                ("num", models.IntegerField(null=True)),
            ],
        )
    ]


def sql(text):
    return [migrations.RunSQL(text, migrations.RunSQL.noop)]


def slug_pk():
    return [
        migrations.RemoveField("tag", "id"),
        migrations.AlterField("tag", "slug", models.CharField(max_length=50, primary_key=True)),
    ]


def test_docs_example_alter_field_to_primary_key_is_flagged():
    result = run(tags(), slug_pk(), select=SELECT)
    assert result.codes() == ["SM112"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_tag"
    constraint = finding.location.sql.split("ADD CONSTRAINT")[1].split()[0].strip('"')
    assert finding.message.startswith(f"Adding primary key {constraint} to existing table shop_tag builds")
    assert "checks every row for NULLs" not in finding.message  # slug was NOT NULL already
    fix = finding.fix
    assert f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{constraint}" ON "shop_tag" ("slug")' in fix.code
    assert f'ADD CONSTRAINT "{constraint}" PRIMARY KEY USING INDEX "{constraint}"' in fix.code
    assert "state_operations=[migrations.AlterField(model_name='tag', name='slug'" in fix.code
    assert "atomic = False" in fix.code


def docs_use_instead():
    """The "Use instead" of the rule's docstring, migration by migration."""
    build = Mig(
        [
            migrations.RunSQL(
                'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "tag_slug_pk" ON "shop_tag" ("slug")',
                reverse_sql='DROP INDEX CONCURRENTLY IF EXISTS "tag_slug_pk"',
            )
        ],
        atomic=False,
    )
    swap = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'ALTER TABLE "shop_tag" DROP CONSTRAINT "shop_tag_pkey", '
                    'ADD CONSTRAINT "tag_slug_pk" PRIMARY KEY USING INDEX "tag_slug_pk"',
                    reverse_sql='ALTER TABLE "shop_tag" DROP CONSTRAINT "tag_slug_pk", '
                    'ADD CONSTRAINT "shop_tag_pkey" PRIMARY KEY ("id")',
                )
            ],
            state_operations=[
                migrations.RemoveField("tag", "id"),
                migrations.AlterField("tag", "slug", models.CharField(max_length=50, primary_key=True)),
            ],
        )
    ]
    return build, swap


def test_docs_use_instead_passes_the_linter():
    doc = " ".join(AddPrimaryKey.__doc__.split())
    for sql in (
        'ALTER TABLE "shop_tag" DROP CONSTRAINT "shop_tag_pkey", \'',
        '\'ADD CONSTRAINT "tag_slug_pk" PRIMARY KEY USING INDEX "tag_slug_pk"\'',
        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "tag_slug_pk" ON "shop_tag" ("slug")',
        'migrations.RemoveField("tag", "id")',
    ):
        assert sql in doc, sql  # the test applies what the docs show
    result = run(tags(), *docs_use_instead())
    assert [f.rule for f in result.findings if f.rule == "SM112" or f.severity.label == "error"] == []


def test_docs_use_instead_applies_on_postgres():
    # The example used to ADD a second primary key: PostgreSQL refused it with
    # 'multiple primary keys for table "shop_tag" are not allowed'.
    result = run(tags(), *docs_use_instead())
    with scratch_database("sm_rules_pk") as name:
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=name, autocommit=True) as conn:
            for statement in result.collected[0].statements:
                conn.execute(statement.sql)
            conn.execute("INSERT INTO shop_tag (slug, num) SELECT 's' || i, i FROM generate_series(1, 100) i")
            for migration in result.collected[1:]:
                with conn.transaction() if migration.atomic else contextlib.nullcontext():
                    for statement in migration.statements:
                        conn.execute(statement.sql)
            row = conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'shop_tag'::regclass AND contype = 'p'"
            ).fetchall()
            assert row == [("tag_slug_pk", "PRIMARY KEY (slug)")]
            # The new release inserts without id: the identity default still fills it.
            conn.execute("INSERT INTO shop_tag (slug, num) VALUES ('new', 1)")


def test_use_instead_the_fix_migrations_pass():
    result = run(tags(), slug_pk(), select=SELECT)
    steps = fix_migrations(result.last[0].fix.code)
    assert len(steps) == 2
    ok = run(tags(), [migrations.RemoveField("tag", "id")], *steps, select=SELECT)
    assert ok.codes(all_migrations=True) == []


def test_add_constraint_primary_key_using_index_on_a_not_null_column_passes():
    result = run(
        tags(),
        Mig(sql('CREATE UNIQUE INDEX CONCURRENTLY "tag_slug_pk" ON "shop_tag" ("slug")'), atomic=False),
        sql(
            'ALTER TABLE "shop_tag" DROP CONSTRAINT "shop_tag_pkey"; ALTER TABLE "shop_tag" ADD CONSTRAINT "tag_slug_pk" PRIMARY KEY USING INDEX "tag_slug_pk"'
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def things():
    return [
        migrations.CreateModel(
            "Thing",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("code", models.CharField(max_length=20, null=True)),
                ("kind", models.CharField(max_length=20)),
            ],
        )
    ]


def code_index(columns="code"):
    return Mig(sql(f"CREATE UNIQUE INDEX CONCURRENTLY thing_code_pk ON shop_thing ({columns})"), atomic=False)


SWAP = (
    "ALTER TABLE shop_thing DROP CONSTRAINT shop_thing_pkey, "
    "ADD CONSTRAINT thing_code_pk PRIMARY KEY USING INDEX thing_code_pk"
)


def test_using_index_on_a_nullable_column_is_flagged():
    # The index was built in an earlier migration: only the catalogue knows its column,
    # and only the model state knows that code is nullable.
    result = run(things(), code_index(), sql(SWAP), select=SELECT)
    assert result.codes(all_migrations=True) == ["SM112"]
    [finding] = result.last
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_thing"
    assert finding.message.startswith(
        "Attaching index thing_code_pk as primary key of existing table shop_thing runs SET NOT NULL on code"
    )
    # The fix makes the column NOT NULL through a validated CHECK; then the swap passes.
    assert "AddConstraintNotValid('thing'" in finding.fix.code
    steps = fix_migrations(finding.fix.code)
    ok = run(things(), code_index(), *steps, sql(SWAP), select=SELECT)
    assert ok.codes(all_migrations=True) == []


def test_using_index_names_only_the_nullable_key_columns():
    result = run(things(), code_index("kind, code"), sql(SWAP), select=SELECT)
    [finding] = result.last
    assert "runs SET NOT NULL on code:" in finding.message  # kind is NOT NULL already


def test_using_index_leaves_include_columns_nullable():
    # PostgreSQL 15 checked: PRIMARY KEY USING an index (kind) INCLUDE (code) keeps code nullable.
    result = run(things(), code_index("kind) INCLUDE (code"), sql(SWAP), select=SELECT)
    assert result.codes(all_migrations=True) == []


def test_using_index_after_a_validated_check_passes_from_postgres_12():
    check = Mig(sql("ALTER TABLE shop_thing ADD CONSTRAINT thing_code_nn CHECK (code IS NOT NULL) NOT VALID"))
    validate = sql("ALTER TABLE shop_thing VALIDATE CONSTRAINT thing_code_nn")
    history = (things(), code_index(), check, validate, sql(SWAP))
    assert run(*history, select=SELECT).codes(all_migrations=True) == []
    # PostgreSQL 11 does not use the CHECK: SET NOT NULL still scans.
    assert run(*history, select=SELECT, pg_version=11).codes() == ["SM112"]
    # A CHECK not validated yet proves nothing.
    assert run(things(), code_index(), check, sql(SWAP), select=SELECT).codes() == ["SM112"]


def test_using_index_after_set_not_null_in_the_same_migration_passes():
    result = run(
        things(),
        code_index(),
        sql(f"ALTER TABLE shop_thing ALTER COLUMN code SET NOT NULL; {SWAP}"),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def _scans(conn, statement):
    """Sequential scans of shop_thing while ``statement`` runs (rolled back). The counters
    also hold the session's stats not yet flushed: the statement's own is the difference."""
    query = "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'shop_thing'"
    with conn.transaction(force_rollback=True):
        [before] = conn.execute(query).fetchone()
        conn.execute(statement)
        [after] = conn.execute(query).fetchone()
        return after - before


def test_using_index_on_postgres_scans_only_a_nullable_column_without_a_validated_check():
    # What the rule stands on, on the real server: attaching the index as primary key
    # runs SET NOT NULL over the table unless the column is NOT NULL or a validated CHECK
    # proves it (PostgreSQL 12+).
    result = run(things(), code_index(), sql(SWAP))
    with scratch_database("sm_rules_pk_using_index") as name:
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=name, autocommit=True) as conn:
            for migration in result.collected[:2]:
                for statement in migration.statements:
                    conn.execute(statement.sql)
            conn.execute(
                "INSERT INTO shop_thing (code, kind) SELECT 'c' || i, 'k' FROM generate_series(1, 100) i"
            )
            assert _scans(conn, SWAP) == 1
            conn.execute("ALTER TABLE shop_thing ADD CONSTRAINT thing_code_nn CHECK (code IS NOT NULL)")
            assert _scans(conn, SWAP) == 0
            conn.execute("ALTER TABLE shop_thing DROP CONSTRAINT thing_code_nn")
            conn.execute("INSERT INTO shop_thing (code, kind) VALUES (NULL, 'k')")
            with pytest.raises(psycopg.errors.NotNullViolation):
                conn.execute(SWAP)


def test_nullable_key_column_mentions_the_null_scan():
    result = run(tags(), sql('ALTER TABLE "shop_tag" ADD PRIMARY KEY ("num")'), select=SELECT)
    assert result.codes() == ["SM112"]
    finding = result.last[0]
    assert "shop_tag_pkey" in finding.message and "checks every row for NULLs" in finding.message
    assert any("NOT NULL first if they are not yet" in step for step in finding.fix.steps)


def test_django_int_to_autofield_pk_is_flagged_without_the_null_scan():
    result = run(
        tags(),
        [
            migrations.RemoveField("tag", "id"),
            migrations.AlterField("tag", "num", models.AutoField(primary_key=True)),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM112"]
    assert "checks every row for NULLs" not in result.last[0].message  # Django ran SET NOT NULL first


def test_auto_field_column_is_flagged_as_a_rewrite():
    result = run(
        tags(),
        [
            migrations.RemoveField("tag", "id"),
            migrations.AddField("tag", "nid", models.BigAutoField(primary_key=True), preserve_default=False),
        ],
        select=SELECT,
    )
    assert result.codes() == ["SM112"]
    finding = result.last[0]
    assert finding.message.startswith(
        "Adding identity column shop_tag.nid writes a sequence value into every"
    )
    assert "then builds the primary key index" in finding.message
    fix = finding.fix
    assert 'ADD COLUMN "nid" bigint NULL' in fix.code
    assert 'CREATE SEQUENCE "shop_tag_nid_seq" AS bigint OWNED BY "shop_tag"."nid"' in fix.code
    assert "SET DEFAULT nextval" in fix.code and "def backfill" in fix.code
    assert 'CHECK ("nid" IS NOT NULL) NOT VALID' in fix.code and "VALIDATE CONSTRAINT" in fix.code
    assert 'PRIMARY KEY USING INDEX "shop_tag_nid_pk"' in fix.code
    assert "state_operations=[migrations.AddField(model_name='tag', name='nid'" in fix.code
    steps = fix_migrations(fix.code)
    ok = run(tags(), [migrations.RemoveField("tag", "id")], *steps, select=SELECT)
    assert ok.codes(all_migrations=True) == []


def test_serial_column_and_inline_primary_key_in_runsql_are_flagged():
    serial = run(initial(), sql("ALTER TABLE shop_customer ADD COLUMN n bigserial"), select=SELECT)
    assert serial.codes() == ["SM112"]
    assert "bigserial column shop_customer.n" in serial.last[0].message
    assert "PRIMARY KEY" not in serial.last[0].fix.code  # a counter, not a key
    inline = run(initial(), sql("ALTER TABLE shop_customer ADD COLUMN k uuid PRIMARY KEY"), select=SELECT)
    assert inline.codes() == ["SM112"]
    assert "as PRIMARY KEY builds a unique index" in inline.last[0].message


def test_identity_on_an_existing_not_null_column_passes():
    result = run(
        tags(),
        sql('ALTER TABLE "shop_tag" ALTER COLUMN "num" ADD GENERATED BY DEFAULT AS IDENTITY'),
        select=SELECT,
    )
    assert result.codes() == []


def test_new_table_is_exempt():
    assert run(tags(), select=SELECT).codes(all_migrations=True) == []
    created = sql(
        "CREATE TABLE shop_tmp (id int NOT NULL, n int); ALTER TABLE shop_tmp ADD PRIMARY KEY (id); ALTER TABLE shop_tmp ADD COLUMN s bigserial"
    )
    assert run(initial(), created, select=SELECT).codes() == []


def test_fix_before_pg12_does_not_promise_a_scan_free_not_null():
    result = run(tags(), sql('ALTER TABLE "shop_tag" ADD COLUMN s serial'), select=SELECT, pg_version=11)
    assert any("PostgreSQL 11 still scans" in step for step in result.last[0].fix.steps)
    modern = run(tags(), sql('ALTER TABLE "shop_tag" ADD COLUMN s serial'), select=SELECT)
    assert any("12+ skips the scan" in step for step in modern.last[0].fix.steps)
