"""Organizations, tenants and their members."""

from collections import defaultdict

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants import access, rbac, services
from tenants.control_api import serializers as s
from tenants.control_api.base import USER_ID, ControlViewSet, parse_uuid
from tenants.control_api.filtersets import TenantFilterSet
from tenants.models import Membership, Organization, RoleAssignment, Tenant, User


def members_page(view, users, assignments):
    """A page of `users`, each with the role assignments of `assignments` that concern them."""
    page = view.paginate_queryset(users)
    by_user = defaultdict(list)
    for assignment in assignments.filter(user__in=[u.pk for u in page]).select_related("role"):
        by_user[assignment.user_id].append(assignment)
    data = s.MemberSerializer(page, many=True, context={"assignments": by_user}).data
    return view.get_paginated_response(data)


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = Organization.objects.all()
    serializer_class = s.OrganizationSerializer

    def create(self, request):
        """Operators create organizations (nobody holds `organization:create` outside one)."""
        if not rbac.can(request.user, "create", "organization"):
            self.deny("Only operators create organizations.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        org = Organization(**serializer.validated_data)
        org.full_clean()
        org.save()
        self.audit("create", org, serializer.validated_data)
        return Response(self.get_serializer(org).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        org = self.get_object()
        self.authorize("update", org)
        serializer = self.get_serializer(org, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        self.audit("update", org, serializer.validated_data)
        return Response(serializer.data)

    def destroy(self, request, pk=None):
        org = self.get_object()
        self.authorize("delete", org)
        if org.tenants.exists():
            raise exceptions.ValidationError("Delete the organization's tenants first.")
        self.audit("delete", org)
        org.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.MemberSerializer(many=True))
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        """People and service accounts holding a role anywhere in the organization (those whose
        assignments the caller may read)."""
        org = self.get_object()
        assignments = RoleAssignment.objects.filter(organization=org, user__isnull=False).restrict(request.user)
        users = User.objects.filter(pk__in=assignments.values("user_id")).order_by("username")
        return members_page(self, users, assignments)


class TenantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = Tenant.objects.select_related("organization")
    serializer_class = s.TenantSerializer
    filterset_class = TenantFilterSet

    def create(self, request):
        """A tenant with its default project and stack (tenants.services.create_tenant); the
        creator becomes its admin."""
        data = self.data(s.TenantSerializer)
        org_id = data.get("organization_id")
        org = self.find(Organization.objects.all(), org_id, "organization") if org_id else None
        org = org or services.default_organization()
        self.authorize_create("tenant", org)
        tenant = services.create_tenant(data["slug"], name=data.get("name"), organization=org, user=request.user)
        if data.get("description"):
            tenant.description = data["description"]
            tenant.save(update_fields=["description", "updated"])
        self.audit("create", tenant, {"slug": tenant.slug, "name": tenant.name})
        return Response(self.get_serializer(tenant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.TenantUpdateSerializer)
    def partial_update(self, request, pk=None):
        """Rename, describe, deactivate (`active: false`: its API and dashboard refuse everyone at
        once) or reactivate a tenant."""
        tenant = self.get_object()
        self.authorize("update", tenant)
        data = self.data(s.TenantUpdateSerializer, partial=True)
        before = {name: getattr(tenant, name) for name in data}
        for name, value in data.items():
            setattr(tenant, name, value)
        tenant.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
        tenant.save()
        self.audit("update", tenant, {k: [before[k], v] for k, v in data.items() if before[k] != v})
        return Response(self.get_serializer(tenant).data)

    def destroy(self, request, pk=None):
        """Delete a tenant and everything in it (not the default tenant)."""
        tenant = self.get_object()
        self.authorize("delete", tenant)
        if tenant.is_default:
            raise exceptions.ValidationError("The default tenant cannot be deleted.")
        self.audit("delete", tenant)
        with transaction.atomic():
            tenant.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=s.MemberSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.MemberCreateSerializer, responses=s.MemberSerializer)
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        """GET: the tenant's members with their roles there. POST {user, role}: give a user a
        tenant role (checked against privilege escalation), which makes them a member."""
        tenant = self.get_object()
        if request.method == "POST":
            return self._add_member(tenant)
        if not rbac.can(request.user, "read", "member", tenant=tenant):
            self.deny("You may not read this tenant's members.", obj=tenant)
        memberships = Membership.objects.filter(tenant=tenant)
        users = User.objects.filter(pk__in=memberships.values("member_id")).order_by("username")
        return members_page(self, users, RoleAssignment.objects.filter(tenant=tenant))

    def _add_member(self, tenant):
        data = self.data(s.MemberCreateSerializer)
        user = self.find(User.objects.all(), data["user"], "user")
        access.grant(data["role"], by=self.request.user, request=self.request, user=user, tenant=tenant)
        assignments = {user.pk: list(RoleAssignment.objects.filter(tenant=tenant, user=user).select_related("role"))}
        body = s.MemberSerializer(user, context={"assignments": assignments}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, parameters=[USER_ID])
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>[^/.]+)")
    def remove_member(self, request, pk=None, user_id=None):
        """Remove a member and every role they hold in the tenant."""
        tenant = self.get_object()
        membership = Membership.objects.filter(tenant=tenant, member_id=parse_uuid(user_id, "user_id")).first()
        if membership is None:
            raise exceptions.NotFound("This user is not a member of the tenant.")
        if not rbac.can(request.user, "delete", "member", tenant=tenant):
            self.deny("You may not remove this tenant's members.", obj=tenant)
        access.remove_member(tenant, membership.member, by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
