from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM113",)


def booking():
    """A table that already holds rows: rooms booked over time ranges."""
    return [
        migrations.CreateModel(
            "Booking",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("room", models.IntegerField()),
                ("period", DateTimeRangeField()),
            ],
        )
    ]


def no_overlap():
    return ExclusionConstraint(
        name="booking_no_overlap",
        expressions=[("room", RangeOperators.EQUAL), ("period", RangeOperators.OVERLAPS)],
    )


def test_docs_example_add_exclusion_constraint_is_flagged():
    result = run(booking(), [migrations.AddConstraint("booking", no_overlap())], select=SELECT)
    assert result.sql() == [
        'ALTER TABLE "shop_booking" ADD CONSTRAINT "booking_no_overlap" '
        'EXCLUDE USING GIST ("room" WITH =, "period" WITH &&);'
    ]
    assert result.codes() == ["SM113"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_booking"
    assert "booking_no_overlap" in finding.message and "no NOT VALID or concurrent form" in finding.message
    assert 'safe_migrations_ignore = {"SM113":' in finding.fix.code
    assert "SET LOCAL lock_timeout" in finding.fix.code
    assert any("CreateModel" in step for step in finding.fix.steps)


def test_use_instead_acknowledged_maintenance_migration_is_suppressed():
    result = run(
        booking(),
        Mig(
            [
                migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop),
                migrations.AddConstraint("booking", no_overlap()),
            ],
            attrs={"safe_migrations_ignore": {"SM113": "maintenance window, booking table locked ~3 s"}},
        ),
        select=SELECT,
    )
    assert result.codes() == []
    assert [f.suppressed for f in result.last] == ["maintenance window, booking table locked ~3 s"]


def test_use_instead_constraint_declared_with_the_table_passes():
    result = run(
        [*booking(), migrations.AddConstraint("booking", no_overlap())],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_exclusion_without_a_name_gets_the_postgres_name():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_order" ADD EXCLUDE USING gist ("quantity" WITH =)')],
        select=SELECT,
    )
    assert result.codes() == ["SM113"]
    assert "shop_order_quantity_excl" in result.last[0].message
