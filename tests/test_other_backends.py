"""Hazards that break the running code on any backend, judged from the operation where no
SQL tree exists (SQLite here; MySQL and Oracle take the same path)."""

from __future__ import annotations

from django.db import migrations, models

from tests.harness import run

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
