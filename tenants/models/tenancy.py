import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from core.models import BaseModel
from tenants.models.base import TenantOwnedModel
from tenants.querysets import OrganizationQuerySet, TenantQuerySet

__all__ = ["Membership", "Organization", "Project", "Tenant"]

name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]*$", "Use lowercase letters, digits, '-' and '_', starting with a letter or digit."
)


class Organization(BaseModel):
    """The customer: owns tenants, users, teams and service accounts."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)

    objects = OrganizationQuerySet.as_manager()
    rbac_shape = {
        "type": "organization",
        "tenant": None,
        "org": "id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    class Meta(BaseModel.Meta):
        ordering = ["slug"]

    def __str__(self):
        return self.name


class Tenant(BaseModel):
    """One ZenML server's worth of data (ZenML Pro's "workspace"); its id is the server id."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="tenants")
    slug = models.SlugField(max_length=50, unique=True, validators=[name_validator])
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False, help_text="Also served at the root URL (/ and /api/v1).")
    logo_url = models.URLField(max_length=1024, blank=True, null=True)
    enable_analytics = models.BooleanField(default=False)
    display_announcements = models.BooleanField(null=True, blank=True)
    display_updates = models.BooleanField(null=True, blank=True)
    last_user_activity = models.DateTimeField(null=True, blank=True)
    secrets_backend = models.CharField(max_length=50, default="sql")

    objects = TenantQuerySet.as_manager()
    rbac_shape = {
        "type": "tenant",
        "tenant": "id",
        "org": "organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    class Meta(BaseModel.Meta):
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="tenant_single_default"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def server_id(self) -> uuid.UUID:
        return self.id

    @property
    def url_prefix(self) -> str:
        """Path prefix for this tenant's API and dashboard: '' for the default tenant."""
        return "" if self.is_default else f"/t/{self.slug}"

    def get_absolute_url(self):
        return f"{self.url_prefix}/"


class Project(TenantOwnedModel):
    """A ZenML project: the scope of pipelines, runs, artifacts and models inside a tenant."""

    rbac_shape = {
        "type": "project",
        "tenant": "tenant_id",
        "org": "tenant__organization_id",
        "project": "id",
        "owner": "user_id",
        "ident": "pk",
        "many": False,
    }

    name = models.CharField(max_length=50, validators=[name_validator])
    display_name = models.CharField(max_length=255, blank=True)
    description = models.CharField(max_length=255, blank=True)
    project_metadata = models.JSONField(default=dict, blank=True)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="project_name_unique_in_tenant")]

    def __str__(self):
        return self.display_name or self.name

    def save(self, *args, **kwargs):
        self.display_name = self.display_name or self.name
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("admin:tenants_project_change", args=[self.pk])


class Membership(TenantOwnedModel):
    """A user's membership of a tenant: the tenant's member list. What a member may do comes from
    their role assignments (tenants.rbac); assigning a tenant or project role makes one a member,
    and removing the membership removes those roles."""

    rbac_shape = {
        "type": "member",
        "tenant": "tenant_id",
        "org": "tenant__organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")

    class Meta(TenantOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "member"], name="membership_unique")]

    def __str__(self):
        return f"{self.member} in {self.tenant}"
