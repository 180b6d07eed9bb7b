"""Teams, roles, role assignments and invitations: every change goes through tenants.access, which
applies the privilege-escalation rules and audits it."""

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tenants import access
from tenants.control_api import serializers as s
from tenants.control_api.base import USER_ID, ControlViewSet, parse_uuid
from tenants.control_api.filtersets import (
    InvitationFilterSet,
    RoleAssignmentFilterSet,
    RoleFilterSet,
    TeamFilterSet,
)
from tenants.models import Invitation, Organization, Project, Role, RoleAssignment, Team, Tenant, User


class TeamViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = Team.objects.prefetch_related("members")
    serializer_class = s.TeamSerializer
    filterset_class = TeamFilterSet

    def create(self, request):
        data = self.data(s.TeamSerializer)
        org = self.find(Organization.objects.all(), data["organization_id"], "organization")
        members = [self.find(User.objects.all(), pk, "user") for pk in data.get("member_ids", [])]
        team = access.create_team(
            org, data["name"], description=data.get("description", ""), by=request.user, request=request
        )
        for member in members:
            access.add_team_member(team, member, by=request.user, request=request)
        return Response(self.get_serializer(team).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        team = self.get_object()
        data = self.data(s.TeamSerializer, partial=True)
        fields = {name: data[name] for name in ("name", "description") if name in data}
        team = access.update_team(team, by=request.user, request=request, **fields)
        return Response(self.get_serializer(team).data)

    def destroy(self, request, pk=None):
        access.delete_team(self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.TeamMemberSerializer, responses=s.TeamSerializer)
    @action(detail=True, methods=["post"])
    def members(self, request, pk=None):
        """Add a user or service account to the team (checked as assigning each of its roles)."""
        team = self.get_object()
        user = self.find(User.objects.all(), self.data(s.TeamMemberSerializer)["user"], "user")
        access.add_team_member(team, user, by=request.user, request=request)
        return Response(self.get_serializer(team).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, parameters=[USER_ID])
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>[^/.]+)")
    def remove_member(self, request, pk=None, user_id=None):
        team = self.get_object()
        user = team.members.filter(pk=parse_uuid(user_id, "user_id")).first()
        if user is None:
            raise exceptions.NotFound("This user is not a member of the team.")
        access.remove_team_member(team, user, by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    """Predefined roles (read-only) and the organizations' custom roles."""

    queryset = Role.objects.all()
    serializer_class = s.RoleSerializer
    filterset_class = RoleFilterSet

    @extend_schema(request=s.RoleCreateSerializer)
    def create(self, request):
        """A custom role from a base role's permissions plus `add` minus `remove`."""
        data = self.data(s.RoleCreateSerializer)
        org = self.find(Organization.objects.all(), data.pop("organization"), "organization")
        role = access.create_role(org, **data, by=request.user, request=request)
        return Response(self.get_serializer(role).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.RoleUpdateSerializer)
    def partial_update(self, request, pk=None):
        role = self.get_object()
        role = access.update_role(role, by=request.user, request=request, **self.data(s.RoleUpdateSerializer))
        return Response(self.get_serializer(role).data)

    def destroy(self, request, pk=None):
        access.delete_role(self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoleAssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = RoleAssignment.objects.select_related("role", "created_by")
    serializer_class = s.RoleAssignmentSerializer
    filterset_class = RoleAssignmentFilterSet

    @extend_schema(request=s.RoleAssignmentCreateSerializer)
    def create(self, request):
        """Give a role to a user, team or invitation at organization, tenant, project or
        resource scope (checked against privilege escalation, audited as role_assigned)."""
        data = self.data(s.RoleAssignmentCreateSerializer)
        scope = self._scope(data)
        subject = self._subject(data)
        assignment, created = access.grant(data["role"], by=request.user, request=request, **subject, **scope)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(assignment).data, status=code)

    def destroy(self, request, pk=None):
        access.revoke_assignment(self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _scope(self, data) -> dict:
        project = self.find(Project.objects.all(), data["project"], "project") if data.get("project") else None
        tenant = self.find(Tenant.objects.all(), data["tenant"], "tenant") if data.get("tenant") else None
        if project is not None and tenant is not None and project.tenant_id != tenant.pk:
            raise exceptions.ValidationError({"project": "This project belongs to another tenant."})
        org = None
        if data.get("organization"):
            org = self.find(Organization.objects.all(), data["organization"], "organization")
        scope = {"organization": org, "tenant": tenant or (project.tenant if project else None), "project": project}
        if data.get("resource_id"):
            scope.update(resource_type=data["resource_type"], resource_id=data["resource_id"])
        return scope

    def _subject(self, data) -> dict:
        if data.get("user"):
            return {"user": self.find(User.objects.all(), data["user"], "user")}
        if data.get("team"):
            return {"team": self.find(Team.objects.all(), data["team"], "team")}
        return {"invitation": self.find(Invitation.objects.all(), data["invitation"], "invitation")}


class InvitationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ControlViewSet):
    queryset = Invitation.objects.select_related("invited_by").prefetch_related("teams", "role_assignments__role")
    serializer_class = s.InvitationSerializer
    filterset_class = InvitationFilterSet

    @extend_schema(request=s.InvitationCreateSerializer, responses={201: s.InvitationCreatedSerializer})
    def create(self, request):
        """Invite someone by e-mail with roles and teams; the answer holds the invitation's token
        once (the invitee accepts with it at /invitations/<token>/ or POST /invitations/accept/)."""
        data = self.data(s.InvitationCreateSerializer)
        org = self.find(Organization.objects.all(), data["organization"], "organization")
        roles = [self._role(org, spec) for spec in data["roles"]]
        teams = [self.find(Team.objects.filter(organization=org), pk, "team") for pk in data["teams"]]
        invitation, token = access.invite(
            org, data["email"], roles=roles, teams=teams, by=request.user, request=request, days=data["days"]
        )
        invitation.token = token
        return Response(s.InvitationCreatedSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, pk=None):
        access.delete_invitation(self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _role(self, org, spec) -> dict:
        role = {"role": spec["role"]}
        if spec.get("project"):
            role["project"] = self.find(Project.objects.filter(tenant__organization=org), spec["project"], "project")
        elif spec.get("tenant"):
            role["tenant"] = self.find(Tenant.objects.filter(organization=org), spec["tenant"], "tenant")
        return role

    @extend_schema(request=s.InvitationAcceptSerializer, responses={201: s.UserRefSerializer})
    @action(detail=False, methods=["post"], authentication_classes=[], permission_classes=[])
    def accept(self, request):
        """Accept an invitation: create the account (username and password) and hand it the
        invitation's roles and teams. The token is the credential, so no login is needed."""
        data = self.data(s.InvitationAcceptSerializer)
        invitation = access.find_invitation(data["token"])
        user = create_invited_user(invitation, data)
        with transaction.atomic():
            user.save()
            access.accept_invitation(data["token"], user, request=request)
        return Response(s.UserRefSerializer(user).data, status=status.HTTP_201_CREATED)


def create_invited_user(invitation: Invitation, data: dict) -> User:
    """An unsaved, validated account for the invitee (username free, password strong enough)."""
    if User.objects.filter(username=data["username"]).exists():
        raise exceptions.ValidationError({"username": "This username is taken."})
    user = User(username=data["username"], email=invitation.email, full_name=data.get("full_name", ""))
    validate_password(data["password"], user)
    user.set_password(data["password"])
    user.full_clean(exclude=["password"])
    return user
