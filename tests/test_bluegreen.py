"""The blue/green guarantee, proven on a real PostgreSQL for every hazard --fix handles.

For each case a project holds the running release (bg.0001_initial, with rows) and one
unsafe migration (bg.0002_change). ``lintmigrations --fix`` rewrites a copy of it. Then,
each on a scratch database of its own, the original and the fixed chain are applied step
by step (tests/bluegreen/driver.py): between steps the old release's ORM selects and
inserts; statements are traced for write-blocking locks held while rows are read or
rewritten. The fixed chain must keep the old code working before the deploy, the new code
after it, never block writes while touching rows, and end in the same catalogue and model
state as the original, which must fail at its step.
"""

from __future__ import annotations

import json
import subprocess
import sys

import django
import pytest

from tests.bluegreen.db import scratch_database
from tests.bluegreen.project import make_bg_project

INITIAL = """
migrations.CreateModel(
    name="Author",
    fields=[
        ("id", models.BigAutoField(primary_key=True)),
        ("name", models.CharField(max_length=100)),
    ],
),
migrations.CreateModel(
    name="Book",
    fields=[
        ("id", models.BigAutoField(primary_key=True)),
        ("title", models.CharField(max_length=200)),
        ("isbn", models.CharField(max_length=20, null=True)),
        ("fax", models.CharField(max_length=20, default="")),
        ("pages", models.IntegerField(default=0)),
        ("subtitle", models.CharField(max_length=100, null=True)),
        ("author", models.ForeignKey("bg.Author", models.CASCADE, null=True)),
        ("code", models.CharField(max_length=40, unique=True)),
        ("rank", models.IntegerField(db_index=True, default=0)),
    ],
),
migrations.CreateModel(
    name="Coupon",
    fields=[
        ("id", models.BigAutoField(primary_key=True)),
        ("code", models.CharField(max_length=20)),
    ],
),
"""

SEED = """
Author = apps.get_model("bg", "Author")
Book = apps.get_model("bg", "Book")
Coupon = apps.get_model("bg", "Coupon")
author = Author.objects.create(name="Ann")
Book.objects.bulk_create(
    Book(
        title=f"t{i}", isbn=f"isbn-{i}", fax="1", pages=i, subtitle=None if i % 3 else "s",
        author=author, code=f"code-{i}", rank=i % 7,
    )
    for i in range(3000)
)
Coupon.objects.bulk_create(Coupon(code=f"c{i}") for i in range(200))
"""

OLD_PROBE = """
import uuid
Book = apps.get_model("bg", "Book")
Coupon = apps.get_model("bg", "Coupon")
assert len(list(Book.objects.order_by("pk")[:5])) == 5
book = Book.objects.create(
    title="old", isbn=uuid.uuid4().hex[:20], fax="2", pages=5, subtitle=None, code=uuid.uuid4().hex[:30], rank=1
)
Book.objects.filter(pk=book.pk).update(pages=6)
assert Book.objects.get(pk=book.pk).pages == 6
assert len(list(Coupon.objects.all()[:3])) == 3
Coupon.objects.create(code="old")
"""


def new_probe(book: str = "Book", coupon: str | None = "Coupon", **values: str) -> str:
    fields = {
        "title": '"new"',
        "isbn": "uuid.uuid4().hex[:20]",
        "pages": "7",
        "subtitle": '"s"',
        "code": "uuid.uuid4().hex[:30]",
        **values,
    }
    kwargs = ", ".join(f"{k}={v}" for k, v in fields.items() if v)
    lines = [
        "import uuid",
        f'Book = apps.get_model("bg", {book!r})',
        'assert len(list(Book.objects.order_by("pk")[:5])) == 5',
        f"Book.objects.create({kwargs})",
    ]
    if coupon:
        lines += [f'Coupon = apps.get_model("bg", {coupon!r})', 'Coupon.objects.create(code="new")']
    return "\n".join(lines) + "\n"


def _check(expression: str, name: str) -> str:
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    return f"models.CheckConstraint({keyword}={expression}, name={name!r})"


# name: (operations of 0002_change, new-code probe, how the original fails: "old-code" | "blocking")
CASES = {
    "drop-column": ('migrations.RemoveField("book", "fax"),', new_probe(), "old-code"),
    "drop-table": ('migrations.DeleteModel("Coupon"),', new_probe(coupon=None), "old-code"),
    "add-not-null-column": (
        'migrations.AddField("book", "stock", models.IntegerField(default=0)),',
        new_probe(),
        "old-code",
    ),
    "add-not-null-positive-column": (
        'migrations.AddField("book", "stars", models.PositiveIntegerField(default=0)),',
        new_probe(),
        "old-code",
    ),
    "add-not-null-callable-default": (
        'migrations.AddField("book", "added", models.DateTimeField(default=django.utils.timezone.now)),',
        new_probe(),
        "old-code",
    ),
    "add-unique-callable-default": (
        'migrations.AddField("book", "uid", models.UUIDField(default=uuid.uuid4, unique=True)),',
        new_probe(),
        "error",
    ),
    "set-not-null": (
        'migrations.AlterField("book", "subtitle", models.CharField(max_length=100, default="")),',
        new_probe(),
        "old-code",
    ),
    "add-foreign-key": (
        'migrations.AddField("book", "editor", models.ForeignKey("bg.Author", models.SET_NULL, '
        'null=True, related_name="+")),',
        new_probe(),
        "blocking",
    ),
    "add-unique": (
        'migrations.AlterField("book", "isbn", models.CharField(max_length=20, null=True, unique=True)),',
        new_probe(),
        "blocking",
    ),
    "add-index": (
        'migrations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx")),',
        new_probe(),
        "blocking",
    ),
    "field-index": (
        'migrations.AlterField("book", "title", models.CharField(max_length=200, db_index=True)),',
        new_probe(),
        "blocking",
    ),
    "change-type": (
        'migrations.AlterField("book", "pages", models.BigIntegerField(default=0)),',
        new_probe(),
        "blocking",
    ),
    "change-type-unique": (
        'migrations.AlterField("book", "code", models.CharField(max_length=30, unique=True)),',
        new_probe(),
        "blocking",
    ),
    "change-type-indexed": (
        'migrations.AlterField("book", "rank", models.BigIntegerField(db_index=True, default=0)),',
        new_probe(),
        "blocking",
    ),
    "rename-column": (
        'migrations.RenameField("book", "title", "name"),',
        new_probe(title="", name='"new"'),
        "old-code",
    ),
    "rename-unique-column": (
        'migrations.RenameField("book", "code", "reference"),',
        new_probe(code="", reference="uuid.uuid4().hex[:30]"),
        "old-code",
    ),
    "rename-table": (
        'migrations.RenameModel("Coupon", "Voucher"),',
        new_probe(coupon="Voucher"),
        "old-code",
    ),
    "add-check": (
        f'migrations.AddConstraint("book", {_check("models.Q(pages__gte=0)", "book_pages_positive")}),',
        new_probe(),
        "blocking",
    ),
}


def _spec(case: str) -> dict[str, object]:
    return {
        "app": "bg",
        "base": "0001_initial",
        "seed": SEED,
        "old_probe": OLD_PROBE,
        "new_probe": CASES[case][1],
        # the rows the running release wrote before the migrations (ids up to these)
        "fingerprint": {"bg_author": 1, "bg_book": 3000, "bg_coupon": 200, "bg_voucher": 200},
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixed_sequence_keeps_both_releases_working(tmp_path, case):
    change, _, failure = CASES[case]
    original = make_bg_project(tmp_path / "original", INITIAL, change)
    fixed = original.copy(tmp_path / "fixed")
    done = fixed.lint("bg", "--fix")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(fixed.files()) > 2 or case in ("add-index", "set-not-null"), fixed.files()
    # The written files pass the linter: no error (warnings and info may remain).
    after = fixed.lint("bg")
    assert after.returncode == 0, after.stdout

    with scratch_database() as db_original, scratch_database() as db_fixed:
        before = original.drive(db_original, _spec(case))
        result = fixed.drive(db_fixed, _spec(case))
    if failure == "error":
        # The original never completes on rows: the end it meant is its run on empty tables.
        with scratch_database() as db_reference:
            reference = original.drive(db_reference, {**_spec(case), "seed": ""})

    # The original breaks the running release at its only step.
    (step,) = before["steps"]
    if failure == "error":  # it cannot even run on a table with rows
        assert step["error"] is not None, step
    else:
        assert step["error"] is None, step
    if failure == "old-code":
        assert step["old_code"] is not None, step
    elif failure == "blocking":
        assert step["blocking"], step

    # The fixed chain: every step applies; before the deploy the old code works after each
    # step, after it the new code does; no step blocks writes while it touches rows.
    for step in result["steps"]:
        assert step["error"] is None, step
        assert step["blocking"] == [], step
        if step["phase"] == "pre-deploy":
            assert step["old_code"] is None, step
        else:
            assert step["new_code"] is None, step
        if not step["atomic"]:
            # Outside a transaction only concurrent index builds, reads and Django's record of
            # the applied migration run (the batches of a backfill have their own transactions).
            for sql in step["autocommit"]:
                upper = sql.upper()
                recorder = upper.startswith('INSERT INTO "DJANGO_MIGRATIONS"')
                assert "CONCURRENTLY" in upper or upper.startswith(("SELECT", "SET ")) or recorder, sql
    assert result["at_deploy"] is None
    if failure != "error":
        assert before["at_deploy"] is None

    # Same end: catalogue, model state, and the rows written before the deploy.
    if failure == "error":
        before = reference  # the unique constraint, validated there, proves distinct values
    else:
        # A callable default gives each row its own value where the original gave one to all.
        per_row = {"added"}
        for table, columns in before["data"].items():
            for column, digest in columns.items():
                if column not in per_row:
                    assert result["data"][table][column] == digest, (table, column)
        assert result["data"].keys() == before["data"].keys() and result["data"]["bg_book"]
    assert result["catalogue"] == before["catalogue"]
    assert result["state"] == before["state"]


# The contract steps (drop the old copy of a retyped or renamed column) must reverse to the
# schema and the rows the running release had: a rollback of the release migrates back to it.
ROLLBACK_CASES = {
    **{k: CASES[k] for k in ("change-type", "change-type-unique", "change-type-indexed")},
    **{k: CASES[k] for k in ("rename-column", "rename-unique-column")},
    "shrink-nullable-varchar": (
        'migrations.AlterField("book", "subtitle", models.CharField(max_length=60, null=True)),',
        new_probe(),
        "blocking",
    ),
    "rename-indexed-column": (
        'migrations.RenameField("book", "rank", "position"),',
        new_probe(),
        "old-code",
    ),
}


@pytest.mark.parametrize("case", sorted(ROLLBACK_CASES))
def test_fixed_sequence_migrates_back_to_the_original_schema_and_rows(tmp_path, case):
    change, probe, _ = ROLLBACK_CASES[case]
    original = make_bg_project(tmp_path / "original", INITIAL, change)
    fixed = original.copy(tmp_path / "fixed")
    done = fixed.lint("bg", "--fix")
    assert done.returncode == 0, done.stdout + done.stderr
    assert any("drop" in name for name in fixed.files()), fixed.files()  # a contract step to reverse
    spec = {**_spec("change-type"), "new_probe": probe, "backwards": True}
    with scratch_database() as db_original, scratch_database() as db_fixed:
        before = original.drive(db_original, spec)
        result = fixed.drive(db_fixed, spec)
    assert before["back"]["error"] is None, before["back"]  # the original migrates back cleanly
    for step in result["steps"]:
        assert step["error"] is None, step
    assert result["back"]["error"] is None, result["back"]
    # Back at the running release: its columns (types, NOT NULL), indexes and constraints under
    # their names, no trigger or shadow column left, and every row it wrote, value for value.
    assert result["back"]["catalogue"] == result["at_base"]["catalogue"]
    assert result["back"]["catalogue"] == before["back"]["catalogue"]
    assert result["back"]["data"] == result["at_base"]["data"]
    assert len(result["back"]["data"]["bg_book"]) == 9  # every column of the seeded rows


@pytest.mark.parametrize("case", ["add-not-null-callable-default", "add-unique-callable-default"])
def test_fixed_backfill_of_a_callable_default_is_batched(tmp_path, case):
    # From files: unbatched-backfill reads the RunPython function's source.
    fixed = make_bg_project(tmp_path / "fixed", INITIAL, CASES[case][0])
    done = fixed.lint("bg", "--fix")
    assert done.returncode == 0, done.stdout + done.stderr
    code = "".join((fixed.migrations / f"{name}.py").read_text() for name in fixed.files())
    assert "bulk_update(rows, [" in code
    after = fixed.lint("bg", "--format", "json", "--select", "SM304")
    assert json.loads(after.stdout)["findings"] == [], after.stdout


def _sql(db: str, *statements: str) -> list[tuple]:
    import psycopg

    from tests.bluegreen.db import HOST, PORT, USER

    with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=db, autocommit=True) as conn:
        rows: list[tuple] = []
        for sql in statements:
            cursor = conn.execute(sql)
            rows = cursor.fetchall() if cursor.description else []
        return rows


INVALID = "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"
BOOKS = (
    "INSERT INTO bg_book (title, isbn, fax, pages, code, rank) "
    "SELECT 't' || i, 'isbn-' || i, '', i, 'code-' || i, 0 FROM generate_series(1, 3000) i"
)


def test_fixed_unique_index_build_is_redone_after_a_failed_build(tmp_path):
    # A duplicate makes CREATE UNIQUE INDEX CONCURRENTLY fail half-way: the INVALID index it
    # leaves must not survive the retry, or ADD CONSTRAINT ... USING INDEX fails on it.
    fixed = make_bg_project(tmp_path / "fixed", INITIAL, CASES["add-unique"][0])
    assert fixed.lint("bg", "--fix").returncode == 0
    with scratch_database() as db:
        assert fixed.manage("migrate", "bg", "0001", db=db).returncode == 0
        _sql(db, BOOKS, "UPDATE bg_book SET isbn = 'isbn-1' WHERE id = 2")
        failed = fixed.manage("migrate", "bg", db=db)
        assert failed.returncode != 0 and "isbn-1" in failed.stderr, failed.stderr[-2000:]
        assert _sql(db, INVALID) == [("bg_book_isbn_907f1a44_uniq",)]  # what the build left
        _sql(db, "UPDATE bg_book SET isbn = 'isbn-2' WHERE id = 2")
        again = fixed.manage("migrate", "bg", db=db)
        assert again.returncode == 0, again.stderr[-2000:]
        assert _sql(db, INVALID) == []
        constraints = _sql(
            db, "SELECT conname FROM pg_constraint WHERE contype = 'u' AND conrelid = 'bg_book'::regclass"
        )
        assert ("bg_book_isbn_907f1a44_uniq",) in constraints


@pytest.mark.parametrize(
    ("case", "index"),
    [("field-index", "bg_book_title_f4cb7179"), ("add-index", "book_title_idx")],
)
def test_fixed_index_build_is_redone_after_a_cancelled_build(tmp_path, case, index):
    # A build cancelled while it waits for a writer (lock_timeout) leaves an INVALID index;
    # AddIndexConcurrently would then stop on "relation already exists".
    import psycopg

    from tests.bluegreen.db import HOST, PORT, USER

    fixed = make_bg_project(tmp_path / "fixed", INITIAL, CASES[case][0])
    assert fixed.lint("bg", "--fix").returncode == 0
    with scratch_database() as db:
        assert fixed.manage("migrate", "bg", "0001", db=db).returncode == 0
        _sql(db, BOOKS)
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=db) as writer:
            writer.execute("UPDATE bg_book SET pages = 1 WHERE id = 1")  # an open write transaction
            env = fixed.env(db)
            env["PGOPTIONS"] = "-c lock_timeout=500"
            done = subprocess.run(
                [sys.executable, "-m", "django", "migrate", "bg"],
                cwd=fixed.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode != 0 and "lock timeout" in done.stderr, done.stderr[-2000:]
            writer.rollback()
        assert _sql(db, INVALID) == [(index,)]
        again = fixed.manage("migrate", "bg", db=db)
        assert again.returncode == 0, again.stderr[-2000:]
        assert _sql(db, INVALID) == []
        names = {n for (n,) in _sql(db, "SELECT indexname FROM pg_indexes WHERE tablename = 'bg_book'")}
        assert index in names
        if case == "field-index":
            assert f"{index}_like" in names
