import pytest
from django.contrib.postgres.indexes import HashIndex
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models.functions import Left

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM409",)


def test_docs_example_btree_on_text_is_flagged_once():
    result = run(
        initial(),
        [migrations.AddField("order", "comment", models.TextField(null=True, db_index=True))],
        select=SELECT,
    )
    assert result.codes() == ["SM409"]  # not again for Django's _like twin
    [finding] = result.last
    assert finding.severity.label == "info"
    assert finding.table == "shop_order"
    assert "is a B-tree on shop_order.comment (text, no length limit)" in finding.message
    assert "index row size exceeds btree maximum" in finding.message
    assert "AddIndexConcurrently('order', HashIndex(fields=['comment'], name='shop_order_comment_hash'))" in (
        finding.fix.code
    )


def test_use_instead_hash_index_passes():
    result = run(
        initial(),
        [migrations.AddField("order", "comment", models.TextField(null=True))],
        Mig(
            [AddIndexConcurrently("order", HashIndex(fields=["comment"], name="order_comment_hash"))],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes(all_migrations=True) == []


def test_bounded_varchar_index_passes():
    result = run(
        initial(),
        [
            migrations.AddField(
                "customer", "region", models.CharField(max_length=30, null=True, db_index=True)
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_more_than_three_columns_is_flagged():
    index = models.Index(fields=["customer", "created", "quantity", "total"], name="order_wide_idx")
    result = run(initial(), [migrations.AddIndex("order", index)], select=SELECT)
    [finding] = result.last
    assert finding.message.startswith("Index order_wide_idx on shop_order has 4 key columns")
    assert "models.Index(fields=['customer_id', 'created'], include=['quantity', 'total'], name='...')" in (
        finding.fix.code
    )


def test_include_columns_need_postgres_11():
    index = models.Index(fields=["customer", "created", "quantity", "total"], name="order_wide_idx")
    result = run(initial(), [migrations.AddIndex("order", index)], select=SELECT, pg_version=10)
    fix = result.last[0].fix
    assert "include=" not in fix.code
    assert any("no INCLUDE columns" in s for s in fix.steps)


def test_three_columns_and_unique_indexes_pass():
    three = models.Index(fields=["customer", "created", "quantity"], name="order_three_idx")
    unique = models.UniqueConstraint(
        fields=["customer", "created", "quantity", "total"], name="order_wide_uniq"
    )
    result = run(
        initial(),
        [migrations.AddIndex("order", three), migrations.AddConstraint("order", unique)],
        select=SELECT,
    )
    assert result.codes() == []


def test_text_column_created_earlier_in_the_migration_is_known():
    result = run(
        [
            migrations.RunSQL(
                "CREATE TABLE shop_note (id bigint PRIMARY KEY, body text); CREATE INDEX note_body ON shop_note (body)",
                "DROP TABLE shop_note",
            )
        ],
        select=SELECT,
    )
    [finding] = result.last
    assert "is a B-tree on shop_note.body (text" in finding.message


def test_add_index_btree_on_an_existing_text_column_is_flagged_like_db_index():
    # Order.note is a TextField created in an earlier migration: only the model state knows
    # its type. AddIndex must be flagged as AlterField(db_index=True) on the same column is.
    index = run(
        initial(),
        [migrations.AddIndex("order", models.Index(fields=["note"], name="order_note_idx"))],
        select=SELECT,
    )
    field = run(
        initial(),
        [migrations.AlterField("order", "note", models.TextField(default="", db_index=True))],
        select=SELECT,
    )
    assert index.codes() == field.codes() == ["SM409"]
    [by_index], [by_field] = index.last, field.last
    assert "Index order_note_idx is a B-tree on shop_order.note (text, no length limit)" in by_index.message
    assert by_index.message.split(" is a B-tree")[1] == by_field.message.split(" is a B-tree")[1]
    assert by_index.fix.code == by_field.fix.code
    assert "HashIndex(fields=['note'], name='shop_order_note_hash')" in by_index.fix.code
    assert (
        "Replace models.Index(fields=['note'], name='order_note_idx') in Meta.indexes"
        in by_index.fix.steps[-1]
    )


def test_add_index_concurrently_on_an_existing_text_column_is_flagged():
    result = run(
        initial(),
        Mig(
            [AddIndexConcurrently("order", models.Index(fields=["-note"], name="order_note_idx"))],
            atomic=False,
        ),
        select=SELECT,
    )
    [finding] = result.last
    assert "is a B-tree on shop_order.note (text, no length limit)" in finding.message


def test_add_index_names_the_field_in_the_fix_and_the_column_in_the_message():
    result = run(
        initial(),
        [migrations.AddField("order", "remark", models.TextField(null=True, db_column="memo"))],
        [migrations.AddIndex("order", models.Index(fields=["quantity", "remark"], name="order_memo_idx"))],
        select=SELECT,
    )
    [finding] = result.last
    assert "is a B-tree on shop_order.memo (text, no length limit)" in finding.message
    assert "HashIndex(fields=['remark']" in finding.fix.code


def test_add_index_on_bounded_columns_and_hash_indexes_pass():
    result = run(
        initial(),
        [
            migrations.AddIndex("customer", models.Index(fields=["name", "code"], name="customer_name_idx")),
            migrations.AddIndex("order", HashIndex(fields=["note"], name="order_note_hash")),
            migrations.AddIndex("order", models.Index(Left("note", 100), name="order_note_left")),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_hand_written_btree_on_an_existing_text_column_is_flagged_from_the_state():
    # The SQL names the column only; the model state knows shop_order.note is a TextField.
    sql = migrations.RunSQL("CREATE INDEX order_note_idx ON shop_order (note)", migrations.RunSQL.noop)
    result = run(initial(), Mig([sql], atomic=False), select=SELECT)
    [finding] = result.last
    assert "is a B-tree on shop_order.note (text, no length limit)" in finding.message
    assert (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "shop_order_note_hash" ON "shop_order" USING hash ("note")'
        in (finding.fix.code)
    )
    assert "AddIndexConcurrently" not in finding.fix.code  # a RunSQL names no model field


def test_hand_written_indexes_on_bounded_columns_or_hash_pass():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL("CREATE INDEX customer_name_idx ON shop_customer (name)"),
                migrations.RunSQL("CREATE INDEX order_qty_idx ON shop_order (quantity)"),
                migrations.RunSQL("CREATE INDEX order_note_hash ON shop_order USING hash (note)"),
                migrations.RunSQL("CREATE UNIQUE INDEX order_note_uniq ON shop_order (note)"),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_hand_written_index_fix_builds_on_postgresql_and_takes_long_values():
    import psycopg

    from tests.bluegreen.db import HOST, PORT, USER, scratch_database
    from tests.rules._fix_migrations import fix_migrations

    sql = migrations.RunSQL("CREATE INDEX order_note_idx ON shop_order (note)", migrations.RunSQL.noop)
    [finding] = run(initial(), Mig([sql], atomic=False), select=SELECT).last
    [fix] = fix_migrations(
        "from django.db import migrations\n\nclass Migration(migrations.Migration):\n"
        "    atomic = False\n    operations = [\n" + finding.fix.code.split("\n", 1)[1] + "\n    ]\n"
    )
    [operation] = fix.operations
    long_value = "".join(f"{i:08x}" for i in range(2000))  # 16,000 characters that do not compress away
    with (
        scratch_database("sm_sm409") as name,
        psycopg.connect(host=HOST, port=PORT, user=USER, dbname=name, autocommit=True) as conn,
    ):
        conn.execute("CREATE TABLE shop_order (id bigint PRIMARY KEY, note text NOT NULL)")
        for statement in operation.sql:  # type: ignore[attr-defined]  # the name dropped, then built
            conn.execute(statement)
        conn.execute("INSERT INTO shop_order VALUES (1, %s)", (long_value,))
        with pytest.raises(psycopg.errors.ProgramLimitExceeded):
            conn.execute("CREATE INDEX order_note_idx ON shop_order (note)")  # what the finding is about
        conn.execute(operation.reverse_sql)  # type: ignore[attr-defined]
