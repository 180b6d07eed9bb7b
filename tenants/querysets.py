from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models


class RestrictedQuerySet(models.QuerySet):
    """The queryset of every tenant-owned model: `restrict()` is the only way views, the admin,
    the API and tasks narrow it to what a user may see or change (decided in tenants.rbac).

    `tenant_lookup` is the path from the model to its tenant's id.
    """

    tenant_lookup = "tenant_id"

    def restrict(self, user, action: str = "read"):
        from tenants import rbac

        return rbac.restrict(self, user, action)


class TenantQuerySet(RestrictedQuerySet):
    tenant_lookup = "id"


class OrganizationQuerySet(RestrictedQuerySet):
    tenant_lookup = "tenants__id"


class UserQuerySet(RestrictedQuerySet):
    tenant_lookup = "memberships__tenant_id"


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):
    pass
