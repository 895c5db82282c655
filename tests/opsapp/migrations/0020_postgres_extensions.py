from django.contrib.postgres.operations import (
    BtreeGinExtension,
    BtreeGistExtension,
    TrigramExtension,
)
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0019_legacy_event_bigint"),
    ]

    operations = [
        BtreeGinExtension(),
        BtreeGistExtension(),
        TrigramExtension(),
    ]
