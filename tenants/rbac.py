"""The one place that decides what a user may see and do.

At this stage a user may act on the rows of the tenants they are a member of; superusers (the
operators of the deployment) on every tenant. Roles and permissions refine `allows()` later;
every caller already goes through `restrict()` and `check()`.
"""

from django.db import models

ACTIONS = ("read", "create", "update", "delete")


def _is_operator(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def tenant_ids(user) -> frozenset:
    """Ids of the tenants `user` belongs to, computed once per user object (i.e. per request)."""
    cached = getattr(user, "_mlmeta_tenant_ids", None)
    if cached is None:
        from tenants.models import Membership

        cached = frozenset(
            Membership.objects.filter(member_id=user.pk, tenant__active=True).values_list("tenant_id", flat=True)
        )
        user._mlmeta_tenant_ids = cached
    return cached


def forget(user) -> None:
    """Drop the per-user cache after memberships change."""
    user.__dict__.pop("_mlmeta_tenant_ids", None)


def restrict(queryset: models.QuerySet, user, action: str = "read") -> models.QuerySet:
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}.")
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if _is_operator(user):
        return queryset
    lookup = f"{queryset.tenant_lookup}__in"
    qs = queryset.filter(**{lookup: tenant_ids(user)})
    # Lookups through a to-many relation can repeat rows.
    return qs.distinct() if "__" in queryset.tenant_lookup else qs


def check(user, action: str, obj) -> bool:
    """Whether `user` may perform `action` on `obj` (deny unless allowed)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if _is_operator(user):
        return True
    if hasattr(obj, "tenant_id"):
        return obj.tenant_id in tenant_ids(user)
    return type(obj)._default_manager.filter(pk=obj.pk).restrict(user, action).exists()


def may_use_tenant(user, tenant) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return _is_operator(user) or tenant.pk in tenant_ids(user)


def is_tenant_admin(user, tenant) -> bool:
    """Whether `user` administers `tenant` (its users and settings): operators, and members whose
    membership is an admin one."""
    if not may_use_tenant(user, tenant):
        return False
    if _is_operator(user):
        return True
    from tenants.models import Membership

    return Membership.objects.filter(tenant=tenant, member_id=user.pk, is_admin=True).exists()
