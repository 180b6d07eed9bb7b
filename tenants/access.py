"""Granting and revoking roles: the one code path for the API, the control plane, the admin
and the commands. Every change here is audited by the caller's audit context."""

from django.core.exceptions import ValidationError
from django.db import transaction

from tenants import rbac
from tenants.models import Membership, Organization, Project, Role, RoleAssignment, Team, Tenant
from tenants.roles import ADMIN_TENANT_ROLE, BUILTIN_ROLES, DEFAULT_TENANT_ROLE


def ensure_builtin_roles() -> int:
    """Create or refresh the predefined roles from tenants.roles; returns how many changed."""
    changed = 0
    for slug, (name, level, description, permissions) in BUILTIN_ROLES.items():
        wanted = {"name": name, "level": level, "description": description, "permissions": sorted(permissions)}
        role = Role.objects.filter(organization=None, slug=slug).first()
        if role is None:
            Role.objects.create(organization=None, slug=slug, builtin=True, **wanted)
            changed += 1
        elif any(getattr(role, key) != value for key, value in wanted.items()):
            Role.objects.filter(pk=role.pk).update(**wanted)
            changed += 1
    return changed


def find_role(slug: str, organization: Organization | None = None) -> Role:
    """A predefined role, or a custom role of `organization`, by slug; raises ValidationError."""
    role = Role.objects.filter(organization=organization, slug=slug).first() if organization else None
    role = role or Role.objects.filter(organization=None, slug=slug).first()
    if role is None and slug in BUILTIN_ROLES:
        ensure_builtin_roles()
        role = Role.objects.get(organization=None, slug=slug)
    if role is None:
        raise ValidationError(f"Unknown role '{slug}'.")
    return role


def assign_role(
    role: Role | str,
    *,
    user=None,
    team: Team | None = None,
    invitation=None,
    organization: Organization | None = None,
    tenant: Tenant | None = None,
    project: Project | None = None,
    resource_type: str = "",
    resource_id=None,
    by=None,
) -> tuple[RoleAssignment, bool]:
    """Give `role` to one subject at one scope (organization, tenant, project or a resource).
    Users given a tenant or project role become members of the tenant. Returns (assignment,
    created); assigning twice changes nothing. Raises ValidationError for a mismatched scope."""
    if project is not None:
        tenant = project.tenant
    organization = organization or (tenant.organization if tenant else None)
    if organization is None:
        raise ValidationError("A role assignment needs an organization, a tenant or a project.")
    if isinstance(role, str):
        role = find_role(role, organization)
    scope = {
        "organization": organization,
        "tenant": tenant,
        "project": project,
        "resource_type": resource_type,
        "resource_id": resource_id,
    }
    subject = {"user": user, "team": team, "invitation": invitation}
    with transaction.atomic():
        existing = RoleAssignment.objects.filter(role=role, **subject, **scope).first()
        if existing is not None:
            return existing, False
        assignment = RoleAssignment(role=role, created_by=by, **subject, **scope)
        assignment.full_clean(exclude=["created_by"])
        assignment.save()
        if user is not None and tenant is not None:
            Membership.objects.get_or_create(tenant=tenant, member=user, defaults={"user": by})
    if user is not None:
        rbac.forget(user)
    return assignment, True


def revoke(assignment: RoleAssignment) -> None:
    assignment.delete()
    if assignment.user is not None:
        rbac.forget(assignment.user)


def add_member(tenant: Tenant, user, role: str | Role | None = None, by=None) -> Membership:
    """Make `user` a member of `tenant` with `role` (a tenant role; developer unless told)."""
    assign_role(role or DEFAULT_TENANT_ROLE, user=user, tenant=tenant, by=by)
    return Membership.objects.get(tenant=tenant, member=user)


def remove_member(tenant: Tenant, user) -> None:
    """`user` leaves `tenant`: their membership and every role they hold inside it go."""
    with transaction.atomic():
        RoleAssignment.objects.filter(user=user, tenant=tenant).delete()
        Membership.objects.filter(tenant=tenant, member=user).delete()
    rbac.forget(user)


def set_tenant_admin(tenant: Tenant, user, is_admin: bool, by=None) -> None:
    """ZenML's `is_admin` flag for a tenant's user: the tenant-admin role, or a developer's."""
    with transaction.atomic():
        RoleAssignment.objects.filter(user=user, tenant=tenant, project=None, resource_id=None).delete()
        assign_role(ADMIN_TENANT_ROLE if is_admin else DEFAULT_TENANT_ROLE, user=user, tenant=tenant, by=by)
    rbac.forget(user)
