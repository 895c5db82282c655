"""Search support: declares pg_trgm again (0020 already created it) and adds unaccent."""

from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0033_misc_alterations"),
    ]

    operations = [
        TrigramExtension(),
        UnaccentExtension(),
    ]
