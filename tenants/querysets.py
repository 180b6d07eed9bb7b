from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models


class RestrictedQuerySet(models.QuerySet):
    """The queryset of every tenant-owned model: `restrict()` is the only way views, the admin,
    the API and tasks narrow it to what a user may see or change (decided in tenants.rbac).

    `tenant_lookup` is the path from the model to its tenant's id.
    """

    tenant_lookup = "tenant_id"

    def restrict(self, user, action: str = "read", resource_type: str | None = None):
        from tenants import rbac

        return rbac.restrict(self, user, action, resource_type)

    def allows(self, user, action: str, obj, resource_type: str | None = None) -> bool:
        """Whether `user` may `action` on `obj` (tenants.rbac.check), for code that holds a row."""
        from tenants import rbac

        return rbac.check(user, action, obj, resource_type)

    def readable_ids(self, user, ids, tenant=None) -> set:
        """Which of `ids` `user` may read (tenants.rbac.allowed_ids): how envelopes decide which
        nested rows to show as `permission_denied`."""
        from tenants import rbac

        return rbac.allowed_ids(user, "read", self.model, ids, tenant=tenant)


class TenantQuerySet(RestrictedQuerySet):
    tenant_lookup = "id"

    def rbac_extra(self, user, grants, action):
        """Members see the tenants they may log in to."""
        from django.db.models import Q

        return [Q(id__in=grants.usable_tenants)] if action == "read" and grants.usable_tenants else []


class OrganizationQuerySet(RestrictedQuerySet):
    tenant_lookup = "tenants__id"

    def rbac_extra(self, user, grants, action):
        """Members of an organization (through any role) read it."""
        from django.db.models import Q

        return [Q(id__in=grants.organizations)] if action == "read" and grants.organizations else []


class UserQuerySet(RestrictedQuerySet):
    tenant_lookup = "memberships__tenant_id"

    def rbac_extra(self, user, grants, action):
        """Everyone reads and updates their own account."""
        from django.db.models import Q

        return [Q(pk=user.pk)] if action in ("read", "update") else []


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass


class OrganizationOwnedQuerySet(RestrictedQuerySet):
    """Rows of an organization (teams, invitations, role assignments): no tenant."""

    tenant_lookup = None


class RoleQuerySet(OrganizationOwnedQuerySet):
    def rbac_extra(self, user, grants, action):
        """Everyone who belongs to an organization sees the predefined roles and its custom ones."""
        from django.db.models import Q

        if action != "read":
            return []
        return [Q(organization__isnull=True), Q(organization_id__in=grants.organizations)]


class APIKeyQuerySet(RestrictedQuerySet):
    tenant_lookup = None


class AuditEventQuerySet(RestrictedQuerySet):
    """Append-only: bulk updates and deletes are refused; `purge()` is the retention path."""

    def update(self, **kwargs):
        from tenants.models.audit import AppendOnlyError

        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        from tenants.models.audit import AppendOnlyError

        raise AppendOnlyError("Audit events cannot be deleted.")

    def purge(self):
        """Delete these events for good (retention), bypassing the append-only guard."""
        return models.QuerySet.delete(self)


class DeviceQuerySet(RestrictedQuerySet):
    def rbac_extra(self, user, grants, action):
        """A device nobody has claimed yet is reachable by the members of its tenant (to verify it
        with its user code); a claimed one only by its user (the owner rule) and tenant admins."""
        from django.db.models import Q

        if action not in ("read", "update") or not grants.usable_tenants:
            return []
        return [Q(user__isnull=True, tenant_id__in=grants.usable_tenants)]
