"""django-filter FilterSets of the control-plane lists."""

import uuid

import django_filters as filters
from django.db.models import Q

from tenants.choices import AuditAction
from tenants.models import APIKey, AuditEvent, Invitation, Role, RoleAssignment, Team, Tenant, User


def _id_or_name(field: str, name_path: str):
    """Filter by a related object's UUID, or by its name (slug, username) otherwise."""

    def method(queryset, _name, value):
        try:
            return queryset.filter(**{f"{field}_id": uuid.UUID(value)})
        except ValueError:
            return queryset.filter(**{name_path: value})

    return method


class TenantFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    active = filters.BooleanFilter()
    slug = filters.CharFilter()

    class Meta:
        model = Tenant
        fields = ["organization", "active", "slug"]


class TeamFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    name = filters.CharFilter(lookup_expr="icontains")
    member = filters.UUIDFilter("members__id")

    class Meta:
        model = Team
        fields = ["organization", "name", "member"]


class RoleFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    level = filters.ChoiceFilter(choices=[(v, v) for v in ("organization", "tenant", "project")])
    builtin = filters.BooleanFilter()

    class Meta:
        model = Role
        fields = ["organization", "level", "builtin"]


class RoleAssignmentFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    tenant = filters.UUIDFilter("tenant_id")
    project = filters.UUIDFilter("project_id")
    user = filters.UUIDFilter("user_id")
    team = filters.UUIDFilter("team_id")
    invitation = filters.UUIDFilter("invitation_id")
    role = filters.CharFilter("role__slug")

    class Meta:
        model = RoleAssignment
        fields = ["organization", "tenant", "project", "user", "team", "invitation", "role"]


class InvitationFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    email = filters.CharFilter(lookup_expr="iexact")
    pending = filters.BooleanFilter(method="filter_pending")

    class Meta:
        model = Invitation
        fields = ["organization", "email", "pending"]

    def filter_pending(self, queryset, _name, value):
        from django.utils import timezone

        pending = Q(accepted__isnull=True, expires__gt=timezone.now())
        return queryset.filter(pending) if value else queryset.exclude(pending)


class ServiceAccountFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    name = filters.CharFilter("username", lookup_expr="icontains")
    active = filters.BooleanFilter("is_active")

    class Meta:
        model = User
        fields = ["organization", "name", "active"]


class APIKeyFilterSet(filters.FilterSet):
    organization = filters.UUIDFilter("organization_id")
    service_account = filters.UUIDFilter("service_account_id")
    active = filters.BooleanFilter()

    class Meta:
        model = APIKey
        fields = ["organization", "service_account", "active"]


class AuditEventFilterSet(filters.FilterSet):
    actor = filters.CharFilter(method=_id_or_name("actor", "actor_name"), help_text="User id or username.")
    action = filters.MultipleChoiceFilter(choices=AuditAction.choices)
    resource_type = filters.CharFilter()
    resource_id = filters.CharFilter()
    tenant = filters.CharFilter(method=_id_or_name("tenant", "tenant__slug"), help_text="Tenant id or slug.")
    organization = filters.UUIDFilter("organization_id")
    via = filters.CharFilter()
    since = filters.IsoDateTimeFilter("created", lookup_expr="gte", help_text="ISO 8601 time, inclusive.")
    until = filters.IsoDateTimeFilter("created", lookup_expr="lt", help_text="ISO 8601 time, exclusive.")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "resource_type", "resource_id", "tenant", "organization", "via", "since", "until"]
