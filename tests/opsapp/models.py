"""Final state of the opsapp migration history (tests/opsapp/migrations).

The history exercises Django's schema operations on PostgreSQL so that the
offline SQL can be compared with ``sqlmigrate`` on hard cases: renamed
fields, models and tables whose constraints keep their old names, hand-written
SQL, concurrent indexes, extensions, collations, comments, and so on.
"""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.postgres.fields import RangeOperators
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower, Now
from django.utils import timezone

from .pgcompat import BrinIndex, ExclusionConstraint, GinIndex, HashIndex


class OrganizationManager(models.Manager):
    use_in_migrations = True


class Organization(models.Model):
    class Country(models.TextChoices):
        FRANCE = "FR", "France"
        GERMANY = "DE", "Germany"
        USA = "US", "United States"

    name = models.CharField(max_length=100, db_comment="Registered legal name")
    slug = models.SlugField(max_length=80, db_index=False)
    legal_code = models.CharField(max_length=20, db_collation="C", unique=True, null=True, blank=True)
    country = models.CharField(max_length=2, choices=Country.choices, default=Country.FRANCE, db_index=True)
    seats = models.IntegerField(default=5, db_column="seat_limit")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationManager()

    class Meta:
        ordering = ["name", "-created_at"]
        db_table = "ops_organization"


class Squad(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams", null=True)
    title = models.CharField(max_length=80, db_comment="Display title")
    team_code = models.TextField()
    headcount = models.IntegerField(null=True, blank=True)

    class Meta:
        unique_together = [("org", "team_code")]
        indexes = [models.Index(fields=["org", "-team_code"], name="squad_org_code_idx")]
        db_table_comment = "Teams (renamed from Team)"


class Person(models.Model):
    email = models.EmailField(max_length=320, unique=True, db_comment="Login; it's unique")
    full_name = models.CharField(max_length=200, db_column="legal_name")
    nickname = models.CharField(max_length=20, null=True, blank=True)
    nickname_ci = models.CharField(max_length=20, null=True, blank=True)
    handle = models.CharField(
        max_length=40, db_collation="case_insensitive", db_index=True, null=True, blank=True
    )
    bio = models.CharField(max_length=500, blank=True)
    age_years = models.SmallIntegerField(default=0)
    score = models.BigIntegerField(default=0)
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="people", db_index=False)
    squad = models.ForeignKey(
        Squad,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        db_index=False,
        db_constraint=False,
        db_column="squad_ref",
    )
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    joined_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)
    external_id = models.CharField(max_length=64, null=True, blank=True)
    area = models.CharField(max_length=8, default="eu")
    settings = models.JSONField(default=dict, blank=True)
    discount_label = models.CharField(max_length=20, default="10% off")
    status = models.CharField(max_length=10, db_default="pending")
    created = models.DateTimeField(db_default=Now())
    weight = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("70.50"))
    nap = models.DurationField(db_default=timedelta(minutes=20))
    last_ip = models.GenericIPAddressField(default="127.0.0.1")
    birthday = models.DateField(default=date(2000, 1, 1))
    signature = models.BinaryField(default=b"\x00\x01'")
    preferences = models.JSONField(db_default=Value({"theme": "light"}, models.JSONField()))
    rank = models.CharField(max_length=10, default="3")

    class Meta:
        db_table = "ops_person"
        db_table_comment = "People known to the platform"
        indexes = [
            models.Index(fields=["-created"], name="person_created_idx"),
            models.Index(fields=["status"], condition=Q(is_active=True), name="person_active_status_idx"),
            models.Index(fields=["org"], include=["full_name"], name="person_org_covering_idx"),
            models.Index(Lower("full_name"), name="person_lower_name_idx"),
            GinIndex(fields=["settings"], name="person_settings_gin"),
            GinIndex(fields=["org", "settings"], name="person_org_settings_gin"),
            GinIndex(fields=["full_name"], opclasses=["gin_trgm_ops"], name="person_name_trgm"),
            BrinIndex(fields=["joined_at"], pages_per_range=32, name="person_joined_brin"),
            HashIndex(fields=["email"], name="person_email_hash_cc"),
        ]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="person_email_ci_unique"),
            models.UniqueConstraint(
                fields=["org", "external_id"],
                deferrable=models.Deferrable.DEFERRED,
                name="person_org_external_id_uniq",
            ),
            models.UniqueConstraint(fields=["uuid"], include=["email"], name="person_uuid_covering_uniq"),
            models.UniqueConstraint(
                fields=["org", "nickname"], nulls_distinct=False, name="person_org_nickname_nd"
            ),
            models.UniqueConstraint(
                fields=["full_name"],
                opclasses=["varchar_pattern_ops"],
                name="person_full_name_pattern_uniq",
            ),
            models.CheckConstraint(
                condition=Q(age_years__gte=0) & Q(age_years__lte=150), name="person_age_range"
            ),
        ]


class Profile(models.Model):
    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="profile")
    avatar_url = models.URLField(blank=True)
    timezone = models.CharField(max_length=50, null=True, default="UTC")


class Country(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=80)


class Invoice(models.Model):
    number = models.BigIntegerField(primary_key=True)
    org = models.ForeignKey(Organization, on_delete=models.DO_NOTHING, related_name="invoices")
    country = models.ForeignKey(Country, on_delete=models.DO_NOTHING, related_name="invoices")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    issued_on = models.DateField(db_index=True, db_column="issued_date")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_non_negative"),
            ExclusionConstraint(
                name="invoice_one_per_org_day",
                expressions=[("org", RangeOperators.EQUAL), ("issued_on", RangeOperators.EQUAL)],
                index_type="gist",
            ),
        ]


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.DB_SET_NULL, null=True, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.BigIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, db_default=Decimal("0.00"))

    class Meta:
        indexes = [models.Index(fields=["description"], name="invoiceline_desc_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__lte=10000), name="invoiceline_quantity_cap")
        ]


class ComplianceAuditTrailEntryForRegulatoryReporting(models.Model):
    upstream_system_correlation_identifier = models.CharField(max_length=64)
    event_kind_for_downstream_consumers = models.CharField(max_length=80)
    retention_period_in_days_before_purge = models.IntegerField(default=365)
    payload = models.JSONField(default=dict)


class Initiative(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100, db_index=True, unique=True)
    budget = models.DecimalField(max_digits=12, decimal_places=2, db_default=Decimal("0"))
    members = models.ManyToManyField(
        Person, through="Membership", through_fields=("project", "person"), related_name="projects"
    )


class Membership(models.Model):
    project = models.ForeignKey(Initiative, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    title = models.CharField(max_length=40, default="member")
    joined_on = models.DateField(auto_now_add=True)
    invited_by = models.ForeignKey(
        Person,
        to_field="email",
        db_column="invited_by_email",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        order_with_respect_to = "project"


class Milestone(models.Model):
    pk = models.CompositePrimaryKey("initiative", "seq")
    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="milestones")
    seq = models.SmallIntegerField()
    title = models.CharField(max_length=120)
    due_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["initiative", "title"], name="milestone_unique_title"),
            models.UniqueConstraint(
                Lower("title"),
                "initiative",
                condition=Q(due_on__isnull=False),
                name="milestone_dated_title_ci_uniq",
            ),
        ]
        indexes = [
            models.Index(Lower("title").desc(), "initiative", name="milestone_title_ci_idx"),
            models.Index(fields=["due_on", "title"], name="milestone_due_title_idx"),
            models.Index(fields=["due_on", "seq"], name="milestone_due_seq_idx"),
        ]


class Team(models.Model):
    """A new model on the table name "opsapp_team", which Squad left behind in 0013."""

    team_code = models.CharField(max_length=12, db_index=True)
    label = models.CharField(max_length=60)
    headcount = models.SmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["label"], condition=Q(headcount__gt=0), name="team_label_staffed_uniq"
            ),
        ]


class Vendor(Organization):
    vat_number = models.CharField(max_length=20, db_index=True)
    rating = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        db_table = "ops_vendor"


class ActiveOrganization(Organization):
    class Meta:
        proxy = True
