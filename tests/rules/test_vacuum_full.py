from django.db import migrations

from tests.conftest import initial
from tests.harness import Mig, run
from tests.rules._fix_migrations import fix_migrations

SELECT = ("SM114",)


def sql(*texts):
    return [migrations.RunSQL(t, migrations.RunSQL.noop) for t in texts]


def test_docs_example_vacuum_full_is_flagged():
    result = run(initial(), sql('VACUUM FULL "shop_order"'), select=SELECT)
    assert result.codes() == ["SM114"]
    finding = result.last[0]
    assert finding.severity.label == "error"
    assert finding.lock == "ACCESS EXCLUSIVE" and finding.table == "shop_order"
    assert finding.message.startswith("VACUUM FULL rewrites shop_order and rebuilds all indexes")
    assert "cannot run inside a transaction block" in finding.message  # atomic migration
    assert "pg_repack" in " ".join(finding.fix.steps)
    assert 'VACUUM (ANALYZE) "shop_order"' in finding.fix.code and "atomic = False" in finding.fix.code


def test_use_instead_plain_vacuum_passes():
    result = run(initial(), Mig(sql('VACUUM (ANALYZE) "shop_order"'), atomic=False), select=SELECT)
    assert result.codes() == []
    flagged = run(initial(), sql('VACUUM FULL "shop_order"'), select=SELECT)
    assert (
        run(initial(), *fix_migrations(flagged.last[0].fix.code), select=SELECT).codes(all_migrations=True)
        == []
    )


def test_all_spellings_of_vacuum_full_are_flagged_outside_a_transaction_too():
    result = run(
        initial(),
        Mig(
            sql(
                "VACUUM (FULL, ANALYZE) shop_customer",
                "VACUUM (FULL true) shop_order",
                "VACUUM (FULL false) shop_order",
            ),
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM114", "SM114"]
    assert all("transaction block" not in f.message for f in result.last)


def test_vacuum_full_of_the_whole_database():
    result = run(initial(), Mig(sql("VACUUM FULL"), atomic=False), select=SELECT)
    assert result.codes() == ["SM114"]
    assert "every table in the database" in result.last[0].message
    assert result.last[0].table is None


def test_cluster_is_flagged():
    result = run(initial(), sql('CLUSTER "shop_order" USING "shop_order_pkey"'), select=SELECT)
    assert result.codes() == ["SM114"]
    finding = result.last[0]
    assert finding.message.startswith("CLUSTER rewrites shop_order in index order")
    assert "transaction block" not in finding.message  # CLUSTER of one table may run in a transaction
    assert "--order-by" in " ".join(finding.fix.steps)
    everything = run(initial(), sql("CLUSTER"), select=SELECT)
    assert "every previously clustered table" in everything.last[0].message
    assert "transaction block" in everything.last[0].message


def test_new_table_is_exempt():
    result = run(
        initial(),
        sql("CREATE TABLE shop_tmp (id int)", "CLUSTER shop_tmp USING shop_tmp_pkey"),
        select=SELECT,
    )
    assert result.codes() == []


def test_repack_is_suggested_from_pg19_only():
    old = run(initial(), sql('VACUUM FULL "shop_order"'), select=SELECT, pg_version=15)
    assert "REPACK" not in " ".join(old.last[0].fix.steps)
    new = run(initial(), sql('VACUUM FULL "shop_order"'), select=SELECT, pg_version=19)
    assert "REPACK (CONCURRENTLY)" in " ".join(new.last[0].fix.steps)
