from django.db import models
from django.db.models import Q


class Organization(models.Model):
    class Country(models.TextChoices):
        FRANCE = "FR", "France"
        GERMANY = "DE", "Germany"
        USA = "US", "United States"

    name = models.CharField(max_length=100, unique=True, db_comment="Legal name")
    slug = models.SlugField(max_length=50)
    country = models.CharField(max_length=2, choices=Country.choices, default=Country.FRANCE)
    seats = models.PositiveIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        db_table_comment = "Customer organisations"


class Team(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=80)
    code = models.CharField(max_length=10, db_index=True)
    headcount = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        unique_together = [("org", "name")]
        indexes = [models.Index(fields=["org", "-code"], name="team_org_code_idx")]


class Tag(models.Model):
    label = models.CharField(max_length=40, unique=True)


class Person(models.Model):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=120)
    nickname = models.CharField(max_length=30, null=True, blank=True)
    bio = models.TextField(blank=True)
    age = models.PositiveSmallIntegerField(null=True, blank=True)
    score = models.IntegerField(default=0)
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="people")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="members")
    tags = models.ManyToManyField(Tag, blank=True, related_name="people")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "full_name"], name="person_unique_name_per_org"),
            models.UniqueConstraint(
                fields=["nickname"],
                condition=Q(nickname__isnull=False),
                name="person_unique_nickname",
            ),
            models.CheckConstraint(condition=Q(score__gte=-100), name="person_score_floor"),
        ]


class Profile(models.Model):
    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="profile")
    avatar_url = models.URLField(blank=True)
    timezone = models.CharField(max_length=50, default="UTC")


class Category(models.Model):
    name = models.CharField(max_length=60)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    position = models.PositiveIntegerField(default=0)


class Country(models.Model):
    code = models.CharField(max_length=2, primary_key=True)
    name = models.CharField(max_length=80)


class Invoice(models.Model):
    number = models.IntegerField(primary_key=True)
    org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="invoices")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    issued_on = models.DateField()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)


class ComplianceAuditTrailEntryForRegulatoryReporting(models.Model):
    upstream_system_correlation_identifier = models.CharField(max_length=64, unique=True)
    event_kind_for_downstream_consumers = models.CharField(max_length=40, db_index=True)
    retention_period_in_days_before_purge = models.PositiveIntegerField(default=365)
    payload = models.JSONField(default=dict)


class Project(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    members = models.ManyToManyField(Person, through="Membership", related_name="projects")
    tags = models.ManyToManyField(Tag, blank=True, related_name="projects")


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    person = models.ForeignKey(Person, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="member")
    joined_on = models.DateField(auto_now_add=True)

    class Meta:
        unique_together = [("project", "person")]
