"""Creating tenants: the one code path shared by the management commands, the admin and the API."""

from django.db import transaction

from tenants import access, rbac
from tenants.models import Membership, Organization, Project, Tenant, User
from tenants.roles import ADMIN_TENANT_ROLE
from tenants.signals import tenant_created, tenant_repair

DEFAULT_ORGANIZATION = "default"
DEFAULT_PROJECT = "default"


def default_organization() -> Organization:
    """The organization tenants land in unless told otherwise; created on first use."""
    org, _ = Organization.objects.get_or_create(slug=DEFAULT_ORGANIZATION, defaults={"name": "Default"})
    return org


def create_tenant(slug, name=None, organization=None, is_default=False, user=None) -> Tenant:
    """Create a validated tenant with its `default` project, then let receivers of `tenant_created`
    seed the rest (mlmeta adds the flavors and the default stack), all in one transaction.

    Raises ValidationError for a bad or taken slug, or a second default tenant.
    `user`, when given, is recorded as the creator and becomes the tenant's admin.
    """
    with transaction.atomic():
        tenant = Tenant(
            organization=organization or default_organization(),
            slug=slug,
            name=name or slug,
            is_default=is_default,
        )
        tenant.full_clean()
        tenant.save()
        ensure_default_project(tenant, user=user)
        if user is not None:
            access.assign_role(ADMIN_TENANT_ROLE, user=user, tenant=tenant, by=user)
        tenant_created.send(sender=Tenant, tenant=tenant, user=user)
    return tenant


def ensure_default_project(tenant: Tenant, user=None) -> tuple[Project, bool]:
    """The tenant's `default` project, as a new ZenML server seeds it; returns (project, created)."""
    return Project.objects.get_or_create(
        tenant=tenant,
        name=DEFAULT_PROJECT,
        defaults={"display_name": DEFAULT_PROJECT, "description": "", "user": user},
    )


def repair_tenant(tenant: Tenant) -> dict[str, int]:
    """Re-create whatever seed of an existing tenant is missing; returns {"what": count created}."""
    created: dict[str, int] = {}
    with transaction.atomic():
        _, project_created = ensure_default_project(tenant)
        created["default project"] = int(project_created)
        for _receiver, result in tenant_repair.send(sender=Tenant, tenant=tenant):
            created.update(result or {})
    return created


# ZenML's server settings and the tenant fields that keep them. `enable_analytics` is accepted and
# ignored: MLMeta sends no analytics.
SETTINGS_FIELDS = {
    "server_name": "name",
    "logo_url": "logo_url",
    "display_announcements": "display_announcements",
    "display_updates": "display_updates",
}


def update_settings(tenant: Tenant, data: dict) -> Tenant:
    """Apply the given (non-null) ZenML server settings to the tenant; raises ValidationError."""
    changed = [field for key, field in SETTINGS_FIELDS.items() if data.get(key) is not None]
    for key, field in SETTINGS_FIELDS.items():
        if data.get(key) is not None:
            setattr(tenant, field, data[key])
    tenant.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
    tenant.save(update_fields=[*changed, "updated"])
    return tenant


def has_admin(tenant: Tenant) -> bool:
    """Whether someone administers the tenant: a tenant admin or an operator who is a member."""
    if Membership.objects.filter(tenant=tenant, member__is_superuser=True).exists():
        return True
    return bool(rbac.tenant_admin_ids(tenant))


def is_activated(tenant: Tenant) -> bool:
    """Whether the tenant is past ZenML's first-run activation: it has an admin, or anyone at all
    (a tenant whose members have no admin is left to the operators, not to whoever asks first)."""
    return Membership.objects.filter(tenant=tenant).exists()


def activate(tenant: Tenant, user: User, settings: dict) -> bool:
    """ZenML's first-run activation, for a tenant nobody belongs to yet: save `user` (unsaved,
    password set) as its first admin and apply `settings`. Returns False, changing nothing, when
    the tenant is activated already; the tenant row is locked, so concurrent requests cannot
    both win."""
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if is_activated(tenant):
            return False
        user.save()
        access.assign_role(ADMIN_TENANT_ROLE, user=user, tenant=tenant, by=user)
        update_settings(tenant, settings)
    return True
