import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import BaseModel
from tenants.choices import RoleLevel
from tenants.querysets import OrganizationOwnedQuerySet, RoleQuerySet
from tenants.roles import ALL_PERMISSIONS, RESOURCE_TYPES

__all__ = ["Invitation", "Role", "RoleAssignment", "Team"]


class Team(BaseModel):
    """A group of an organization's users and service accounts; roles assigned to it apply to all
    its members."""

    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrganizationOwnedQuerySet.as_manager()
    rbac_type = "team"

    class Meta(BaseModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="team_name_unique_in_org")]

    def __str__(self):
        return self.name


def validate_permissions(value) -> None:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ValidationError("Permissions are a list of 'resource_type:action' strings.")
    unknown = sorted(set(value) - ALL_PERMISSIONS)
    if unknown:
        raise ValidationError(f"Unknown permission(s): {', '.join(unknown)}.")


class Role(BaseModel):
    """A named set of permissions, assignable at one level (organization, tenant or project).

    Predefined roles (`builtin`, no organization) are seeded from tenants.roles and cannot be
    changed; organizations add custom roles, usually starting from a predefined one.
    """

    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    level = models.CharField(max_length=16, choices=RoleLevel.choices)
    permissions = models.JSONField(default=list, blank=True, validators=[validate_permissions])
    builtin = models.BooleanField(default=False, editable=False)

    objects = RoleQuerySet.as_manager()
    rbac_type = "role"

    class Meta(BaseModel.Meta):
        ordering = ["level", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="role_slug_unique_in_org"),
            models.UniqueConstraint(fields=["slug"], condition=Q(organization=None), name="builtin_role_slug_unique"),
        ]

    def __str__(self):
        return self.name

    @property
    def permission_set(self) -> frozenset:
        return frozenset(self.permissions)


class Invitation(BaseModel):
    """An invitation to join an organization, holding role assignments and teams until the
    invited person first logs in (password set through the link, or single sign-on by e-mail).

    Only a hash of the token in the link is stored.
    """

    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, editable=False)
    teams = models.ManyToManyField(Team, related_name="invitations", blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires = models.DateTimeField()
    accepted = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrganizationOwnedQuerySet.as_manager()
    rbac_type = "invitation"

    class Meta(BaseModel.Meta):
        ordering = ["-created"]

    def __str__(self):
        return self.email

    def new_token(self, days: int = 7) -> str:
        """Set a fresh token valid for `days`; returns it (it is not stored)."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hashlib.sha256(token.encode()).hexdigest()
        self.expires = timezone.now() + timedelta(days=days)
        return token

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256((token or "").encode()).hexdigest()

    @property
    def pending(self) -> bool:
        return self.accepted is None and self.expires > timezone.now()


class RoleAssignment(BaseModel):
    """A role given to a user (or service account), a team or a pending invitation, at one scope:
    the organization (no tenant), a tenant, a project, or a single resource (sharing)."""

    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="role_assignments"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="role_assignments")
    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, null=True, blank=True, related_name="role_assignments"
    )
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    project = models.ForeignKey("tenants.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    resource_type = models.CharField(
        max_length=64, blank=True, choices=[(t, t) for t in RESOURCE_TYPES], help_text="Sharing one resource."
    )
    resource_id = models.UUIDField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = OrganizationOwnedQuerySet.as_manager()
    # Organization-scope assignments have no tenant: the organization is their own column. The
    # subject does not "own" its assignment: only member permissions let one see or change it.
    rbac_shape = {
        "type": "member",
        "tenant": "tenant_id",
        "org": "organization_id",
        "project": None,
        "owner": None,
        "ident": None,
        "many": False,
    }

    class Meta(BaseModel.Meta):
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, team__isnull=True, invitation__isnull=True)
                    | Q(user__isnull=True, team__isnull=False, invitation__isnull=True)
                    | Q(user__isnull=True, team__isnull=True, invitation__isnull=False)
                ),
                name="role_assignment_one_subject",
            ),
            models.CheckConstraint(
                condition=Q(project__isnull=True) | Q(tenant__isnull=False), name="role_assignment_project_in_tenant"
            ),
            models.CheckConstraint(
                condition=Q(resource_id__isnull=True) | Q(tenant__isnull=False),
                name="role_assignment_resource_in_tenant",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "organization"]),
            models.Index(fields=["team", "organization"]),
            models.Index(fields=["tenant", "role"]),
        ]

    def __str__(self):
        return f"{self.role} for {self.subject} on {self.scope_label}"

    @property
    def subject(self):
        return self.user or self.team or self.invitation

    @property
    def scope(self) -> str:
        if self.resource_id:
            return "resource"
        if self.project_id:
            return "project"
        return "tenant" if self.tenant_id else "organization"

    @property
    def scope_label(self) -> str:
        if self.resource_id:
            return f"{self.resource_type} {self.resource_id}"
        return str(self.project or self.tenant or self.organization)

    def clean(self):
        if self.role_id and self.scope in ("organization", "tenant", "project") and self.role.level != self.scope:
            raise ValidationError({"role": f"A {self.role.level} role cannot be assigned at {self.scope} scope."})
        if self.role_id and self.role.organization_id not in (None, self.organization_id):
            raise ValidationError({"role": "This role belongs to another organization."})
        if self.tenant_id and self.tenant.organization_id != self.organization_id:
            raise ValidationError({"tenant": "This tenant belongs to another organization."})
        if self.project_id and self.project.tenant_id != self.tenant_id:
            raise ValidationError({"project": "This project belongs to another tenant."})
        if bool(self.resource_type) != bool(self.resource_id):
            raise ValidationError({"resource_id": "Sharing needs both a resource type and a resource id."})
