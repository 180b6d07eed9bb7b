"""Finding what a management command names, or failing with one line that says what is missing."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from tenants import access
from tenants.models import Organization, Project, Role, Team, Tenant, User


def organization(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise CommandError(f"Unknown organization '{slug}'.")
    return org


def tenant(slug: str, org: Organization | None = None) -> Tenant:
    found = Tenant.objects.select_related("organization").filter(slug=slug).first()
    if found is None:
        raise CommandError(f"Unknown tenant '{slug}'.")
    if org is not None and found.organization_id != org.pk:
        raise CommandError(f"Tenant '{slug}' belongs to organization '{found.organization.slug}', not '{org.slug}'.")
    return found


def project(in_tenant: Tenant, name: str) -> Project:
    found = Project.objects.filter(tenant=in_tenant, name=name).first()
    if found is None:
        raise CommandError(f"Unknown project '{name}' in tenant '{in_tenant.slug}'.")
    return found


def user(username: str) -> User:
    found = User.objects.filter(username=username).first()
    if found is None:
        raise CommandError(f"Unknown user '{username}'.")
    return found


def team(org: Organization, name: str) -> Team:
    found = Team.objects.filter(organization=org, name=name).first()
    if found is None:
        raise CommandError(f"Unknown team '{name}' in organization '{org.slug}'.")
    return found


def role(slug: str, org: Organization, level: str) -> Role:
    """A predefined or `org`'s custom role, which must be of `level` (where it is assigned)."""
    try:
        found = access.find_role(slug, org)
    except ValidationError:
        raise CommandError(f"Unknown role '{slug}'.") from None
    if found.level != level:
        raise CommandError(f"Role '{slug}' is a {found.level} role and cannot be assigned at {level} scope.")
    return found
