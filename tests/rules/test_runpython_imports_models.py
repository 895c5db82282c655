from django.db import migrations

from tests.conftest import initial
from tests.harness import run

SELECT = ("SM305",)


class Customer:
    """Stands for a model class imported at the top of a migration module."""

    objects = None


def fill_slugs_imported(apps, schema_editor):
    from shop.models import Customer

    for customer in Customer.objects.filter(slug=""):
        customer.save()


def fill_slugs(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    for customer in Customer.objects.filter(slug=""):
        customer.save()


def uses_module_level_model(apps, schema_editor):
    Customer.objects.filter(age__isnull=True).update(age=0)


def uses_models_module_attribute(apps, schema_editor):
    # `import shop.models` at the top of the migration module, then:
    shop.models.Customer.objects.filter(pk=3).update(age=1)  # noqa: F821 - only the source is read


def uses_user_model(apps, schema_editor):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(is_staff=True).update(is_active=True)


def imports_the_models_module(apps, schema_editor):
    import shop.models

    shop.models.Customer.objects.all()


def imports_contrib_models(apps, schema_editor):
    from django.contrib.auth.models import Group

    Group.objects.get_or_create(name="editors")


def uses_orm_helpers(apps, schema_editor):
    from django.db.models import F

    Customer = apps.get_model("shop", "Customer")
    Customer.objects.filter(pk=1).update(age=F("age") + 1)


def test_docs_example_import_inside_the_function_is_flagged():
    result = run(
        initial(), [migrations.RunPython(fill_slugs_imported, migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == ["SM305"]
    [finding] = result.last
    assert finding.severity.label == "warning"
    assert "line 2 of fill_slugs_imported: `from shop.models import Customer`" in finding.message
    assert "breaks on a fresh database" in finding.message
    assert "Customer = apps.get_model('shop', 'Customer')" in finding.fix.code


def test_use_instead_apps_get_model_passes():
    result = run(initial(), [migrations.RunPython(fill_slugs, migrations.RunPython.noop)], select=SELECT)
    assert result.codes() == []


def test_model_class_from_the_module_imports_is_flagged():
    result = run(
        initial(), [migrations.RunPython(uses_module_level_model, migrations.RunPython.noop)], select=SELECT
    )
    [finding] = result.last
    assert "`Customer.objects` on a model class imported by the module" in finding.message


def test_get_user_model_is_flagged():
    result = run(initial(), [migrations.RunPython(uses_user_model, migrations.RunPython.noop)], select=SELECT)
    [finding] = result.last
    assert "get_user_model() returns the current user model" in finding.message
    assert "apps.get_model(settings.AUTH_USER_MODEL)" in finding.fix.code
    assert finding.fix.code.startswith("from django.conf import settings")


def test_import_of_a_models_module_is_flagged():
    result = run(
        initial(), [migrations.RunPython(imports_the_models_module, migrations.RunPython.noop)], select=SELECT
    )
    [finding] = result.last
    assert "`import shop.models`" in finding.message


def test_contrib_models_are_models_too():
    result = run(
        initial(), [migrations.RunPython(imports_contrib_models, migrations.RunPython.noop)], select=SELECT
    )
    [finding] = result.last
    assert "from django.contrib.auth.models import Group" in finding.message
    assert "Group = apps.get_model('auth', 'Group')" in finding.fix.code


def test_django_db_models_helpers_pass():
    result = run(
        initial(), [migrations.RunPython(uses_orm_helpers, migrations.RunPython.noop)], select=SELECT
    )
    assert result.codes() == []


def test_model_class_through_a_module_level_models_import_is_flagged():
    op = migrations.RunPython(uses_models_module_attribute, migrations.RunPython.noop)
    [finding] = run(initial(), [op], select=SELECT).last
    assert "`shop.models.Customer.objects` on a model class imported by the module" in finding.message
