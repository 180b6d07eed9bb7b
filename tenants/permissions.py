from rest_framework.permissions import BasePermission

from tenants import rbac


class IsTenantMember(BasePermission):
    """The default for every API view: an authenticated, active member of the URL's tenant."""

    message = "You are not a member of this tenant."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        tenant = getattr(request._request, "tenant", None)
        return tenant is not None and rbac.may_use_tenant(user, tenant)
