import django
from django.db import migrations, models

from tests.conftest import initial
from tests.harness import Mig, run

SELECT = ("SM120",)

LOCK_TIMEOUT = migrations.RunSQL("SET LOCAL lock_timeout = '2s'", migrations.RunSQL.noop)
POST_DEPLOY = {"safe_migrations_phase": "post-deploy"}


def customer_fk(**kwargs):
    return models.ForeignKey("shop.customer", models.CASCADE, **kwargs)


def test_docs_example_dropping_a_foreign_key_is_flagged():
    result = run(
        initial(),
        [migrations.AlterField("order", "customer", customer_fk(db_constraint=False))],
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    finding = result.last[0]
    assert finding.severity.label == "warning"
    assert finding.lock == "ACCESS EXCLUSIVE"
    assert finding.table == "shop_order"
    assert "foreign key shop_order_customer_id_f638df20_fk_shop_customer_id" in finding.message
    assert "shop_order and on shop_customer" in finding.message and "point nowhere" in finding.message
    code = finding.fix.code
    assert 'safe_migrations_phase = "post-deploy"' in code and "SET LOCAL lock_timeout" in code
    assert "db_constraint=False" in code
    assert any("shop_order and shop_customer" in step for step in finding.fix.steps)


def test_use_instead_post_deploy_with_lock_timeout_passes():
    result = run(
        initial(),
        Mig(
            [LOCK_TIMEOUT, migrations.AlterField("order", "customer", customer_fk(db_constraint=False))],
            attrs=POST_DEPLOY,
        ),
        select=SELECT,
    )
    assert result.codes() == []


def test_post_deploy_without_lock_timeout_still_warns_about_the_lock_only():
    result = run(
        initial(),
        Mig(
            [migrations.AlterField("order", "customer", customer_fk(db_constraint=False))], attrs=POST_DEPLOY
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    message = result.last[0].message
    assert "no lock_timeout" in message and "point nowhere" not in message


def test_lock_timeout_without_post_deploy_warns_about_the_guarantee_only():
    result = run(
        initial(),
        [migrations.AlterField("order", "customer", customer_fk(db_constraint=False))],
        select=SELECT,
        lock_timeout=True,
    )
    message = result.last[0].message
    assert "no lock_timeout" not in message and "point nowhere" in message


def test_dropping_unique_warns_about_duplicates():
    result = run(
        initial(),
        [migrations.AlterField("customer", "name", models.CharField(max_length=100, unique=True))],
        [migrations.AlterField("customer", "name", models.CharField(max_length=100))],
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    assert "unique constraint shop_customer_name_e6c6b028_uniq" in result.last[0].message
    assert "duplicates" in result.last[0].message


def test_remove_constraint_is_flagged():
    constraint = models.UniqueConstraint(fields=["name", "code"], name="customer_name_code")
    result = run(
        initial(),
        [migrations.AddConstraint("customer", constraint)],
        [migrations.RemoveConstraint("customer", "customer_name_code")],
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    assert (
        "migrations.RemoveConstraint(model_name='customer', name='customer_name_code')"
        in result.last[0].fix.code
    )


def test_set_not_null_recipe_dropping_its_check_passes():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    check = models.CheckConstraint(**{keyword: models.Q(phone__isnull=False)}, name="customer_phone_notnull")
    result = run(
        initial(),
        [migrations.AddConstraint("customer", check)],
        [
            migrations.SeparateDatabaseAndState(
                database_operations=[
                    migrations.RunSQL(
                        'ALTER TABLE "shop_customer" ALTER COLUMN "phone" SET NOT NULL',
                        'ALTER TABLE "shop_customer" ALTER COLUMN "phone" DROP NOT NULL',
                    )
                ],
                state_operations=[
                    migrations.AlterField("customer", "phone", models.CharField(max_length=20))
                ],
            ),
            migrations.RemoveConstraint("customer", "customer_phone_notnull"),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_dropping_a_not_null_check_without_set_not_null_is_flagged():
    keyword = "condition" if django.VERSION >= (5, 1) else "check"
    check = models.CheckConstraint(**{keyword: models.Q(phone__isnull=False)}, name="customer_phone_notnull")
    result = run(
        initial(),
        [migrations.AddConstraint("customer", check)],
        [migrations.RemoveConstraint("customer", "customer_phone_notnull")],
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    assert "CHECK constraint customer_phone_notnull" in result.last[0].message


def test_remove_field_of_a_foreign_key_is_left_to_drop_column():
    result = run(initial(), [migrations.RemoveField("order", "customer")], select=SELECT)
    assert any("DROP CONSTRAINT" in s for s in result.sql())
    assert result.codes() == []


def test_constraint_created_in_the_same_migration_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL('ALTER TABLE "shop_order" ADD CONSTRAINT "q" CHECK ("quantity" > 0) NOT VALID'),
            migrations.RunSQL('ALTER TABLE "shop_order" DROP CONSTRAINT "q"'),
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_runsql_drop_named_like_a_foreign_key():
    result = run(
        initial(),
        [migrations.RunSQL('ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_x_fkey"')],
        select=SELECT,
    )
    assert result.codes() == ["SM120"]
    assert "on shop_order and on the table it references" in result.last[0].message


def test_constraint_recreated_in_the_same_transaction_passes():
    result = run(
        initial(),
        [
            migrations.RunSQL(
                'ALTER TABLE "shop_order" DROP CONSTRAINT "fk"; '
                'ALTER TABLE "shop_order" ADD CONSTRAINT "fk" FOREIGN KEY ("customer_id") '
                'REFERENCES "shop_customer" ("id") NOT VALID'
            )
        ],
        select=SELECT,
    )
    assert result.codes() == []


def test_constraint_recreated_in_a_later_transaction_is_flagged():
    result = run(
        initial(),
        Mig(
            [
                migrations.RunSQL('ALTER TABLE "shop_order" DROP CONSTRAINT "fk"'),
                migrations.RunSQL(
                    'ALTER TABLE "shop_order" ADD CONSTRAINT "fk" FOREIGN KEY ("customer_id") '
                    'REFERENCES "shop_customer" ("id") NOT VALID'
                ),
            ],
            atomic=False,
        ),
        select=SELECT,
    )
    assert result.codes() == ["SM120"]


def test_primary_key_swap_passes():
    swap = (
        'ALTER TABLE "shop_customer" DROP CONSTRAINT "shop_customer_pkey"; '
        'ALTER TABLE "shop_customer" ADD CONSTRAINT "shop_customer_pkey2" PRIMARY KEY USING INDEX "cust_new_pk"'
    )
    assert run(initial(), [migrations.RunSQL(swap)], select=SELECT).codes() == []
    alone = 'ALTER TABLE "shop_customer" DROP CONSTRAINT "shop_customer_pkey"'
    result = run(initial(), [migrations.RunSQL(alone)], select=SELECT)
    assert result.codes() == ["SM120"]
    assert "primary key shop_customer_pkey" in result.last[0].message


def test_foreign_key_moved_to_another_column_in_one_transaction_passes():
    swap = (
        'ALTER TABLE "shop_order" DROP CONSTRAINT "shop_order_customer_id_f638df20_fk_shop_customer_id"; '
        'ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_customer_new_fk" FOREIGN KEY ("customer_new") '
        'REFERENCES "shop_customer" ("id") NOT VALID'
    )
    assert run(initial(), [migrations.RunSQL(swap)], select=SELECT).codes() == []


def test_hand_written_not_null_proof_dropped_after_set_not_null_passes():
    sql = (
        'ALTER TABLE "shop_customer" ALTER COLUMN "phone" SET NOT NULL; '
        'ALTER TABLE "shop_customer" DROP CONSTRAINT "shop_customer_phone_notnull"'
    )
    assert run(initial(), [LOCK_TIMEOUT, migrations.RunSQL(sql)], select=SELECT).codes() == []
    other_table = sql.replace('TABLE "shop_customer" ALTER', 'TABLE "shop_order" ALTER').replace(
        '"phone"', '"note"'
    )
    assert run(initial(), [LOCK_TIMEOUT, migrations.RunSQL(other_table)], select=SELECT).codes() == ["SM120"]


def test_bound_check_dropped_after_attach_partition_passes():
    setup = [
        migrations.RunSQL('CREATE TABLE "shop_event" ("key" int) PARTITION BY RANGE ("key")'),
        migrations.RunSQL('CREATE TABLE "shop_event_2" ("key" int)'),
    ]
    attach = 'ALTER TABLE "shop_event" ATTACH PARTITION "shop_event_2" FOR VALUES FROM (100) TO (200)'
    drop = 'ALTER TABLE "shop_event_2" DROP CONSTRAINT "shop_event_2_bound_check"'
    assert (
        run(initial(), setup, [migrations.RunSQL(attach), migrations.RunSQL(drop)], select=SELECT).codes()
        == []
    )
    assert run(initial(), setup, [migrations.RunSQL(drop)], select=SELECT).codes() == ["SM120"]
