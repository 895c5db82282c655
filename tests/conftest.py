"""Shared fixtures: the in-memory 'shop' app used by rule tests."""

from __future__ import annotations

from django.db import migrations, models


def initial() -> list[object]:
    """Release 1 of the shop: customers and orders (tables that already hold rows)."""
    return [
        migrations.CreateModel(
            "Customer",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=100)),
                ("phone", models.CharField(max_length=20, null=True)),
                ("fax", models.CharField(max_length=20, null=True)),
                ("code", models.CharField(max_length=10, default="x")),
                ("age", models.IntegerField(null=True)),
            ],
        ),
        migrations.CreateModel(
            "Order",
            [
                ("id", models.BigAutoField(primary_key=True)),
                ("customer", models.ForeignKey("shop.Customer", models.CASCADE)),
                ("quantity", models.IntegerField(default=1)),
                ("note", models.TextField(default="")),
                ("created", models.DateTimeField(null=True)),
                ("total", models.DecimalField(max_digits=10, decimal_places=2, default=0)),
            ],
        ),
    ]
