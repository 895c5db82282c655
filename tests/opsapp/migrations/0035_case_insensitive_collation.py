from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("opsapp", "0034_search_extensions"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE COLLATION IF NOT EXISTS \"case_insensitive\" "
            "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
            reverse_sql='DROP COLLATION IF EXISTS "case_insensitive"',
        ),
    ]
