"""Serializers of the control-plane API. Related objects are written as ids and resolved by the
views through restricted querysets (never an unrestricted `queryset=` here)."""

from rest_framework import serializers

from tenants.models import APIKey, AuditEvent, Invitation, Organization, Role, RoleAssignment, Team, Tenant, User
from tenants.roles import ALL_PERMISSIONS

PERMISSION_CHOICES = sorted(ALL_PERMISSIONS)


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "slug", "name", "description", "created", "updated"]
        read_only_fields = ["id", "created", "updated"]


class TenantSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", required=False)
    url = serializers.CharField(source="url_prefix", read_only=True)

    class Meta:
        model = Tenant
        fields = ["id", "organization", "slug", "name", "description", "active", "is_default", "url", "created"]
        read_only_fields = ["id", "is_default", "created"]


class TenantUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["name", "description", "active"]


class UserRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="username")

    class Meta:
        model = User
        fields = ["id", "name", "email", "is_service_account"]


class AssignmentRefSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="role.slug")

    class Meta:
        model = RoleAssignment
        fields = ["id", "role", "scope", "tenant", "project", "resource_type", "resource_id"]


class MemberSerializer(UserRefSerializer):
    """A member (of an organization or a tenant) with the role assignments that make them one."""

    roles = serializers.SerializerMethodField()

    class Meta(UserRefSerializer.Meta):
        fields = [*UserRefSerializer.Meta.fields, "is_active", "roles"]

    def get_roles(self, user) -> list[dict]:
        return AssignmentRefSerializer(self.context["assignments"].get(user.pk, []), many=True).data


class MemberCreateSerializer(serializers.Serializer):
    user = serializers.UUIDField()
    role = serializers.SlugField(default="tenant-developer")


class TeamSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id")
    members = UserRefSerializer(many=True, read_only=True)
    member_ids = serializers.ListField(child=serializers.UUIDField(), write_only=True, required=False)

    class Meta:
        model = Team
        fields = ["id", "organization", "name", "description", "members", "member_ids", "created"]
        read_only_fields = ["id", "created"]


class TeamMemberSerializer(serializers.Serializer):
    user = serializers.UUIDField()


class RoleSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id", allow_null=True, read_only=True)

    class Meta:
        model = Role
        fields = ["id", "organization", "slug", "name", "description", "level", "permissions", "builtin", "created"]
        read_only_fields = fields


class RoleCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    name = serializers.CharField(max_length=255)
    slug = serializers.SlugField(max_length=64, required=False, default="")
    description = serializers.CharField(required=False, default="", allow_blank=True)
    base = serializers.SlugField(required=False, help_text="Slug of the role to start from.")
    level = serializers.ChoiceField(choices=["organization", "tenant", "project"], required=False)
    add = serializers.ListField(child=serializers.ChoiceField(PERMISSION_CHOICES), required=False, default=list)
    remove = serializers.ListField(child=serializers.CharField(), required=False, default=list)

    def validate(self, attrs):
        if not attrs.get("base") and not attrs.get("level"):
            raise serializers.ValidationError("Give a base role or a level.")
        return attrs


class RoleUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    permissions = serializers.ListField(child=serializers.ChoiceField(PERMISSION_CHOICES), required=False)


class RoleAssignmentSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="role.slug", read_only=True)
    role_id = serializers.UUIDField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = RoleAssignment
        fields = [
            "id",
            "role",
            "role_id",
            "scope",
            "organization",
            "tenant",
            "project",
            "resource_type",
            "resource_id",
            "user",
            "team",
            "invitation",
            "created_by",
            "created",
        ]
        read_only_fields = fields


class RoleAssignmentCreateSerializer(serializers.Serializer):
    role = serializers.SlugField(help_text="Slug of a predefined role or of a custom role of the organization.")
    organization = serializers.UUIDField(required=False)
    tenant = serializers.UUIDField(required=False)
    project = serializers.UUIDField(required=False)
    resource_type = serializers.CharField(required=False, default="")
    resource_id = serializers.UUIDField(required=False)
    user = serializers.UUIDField(required=False, help_text="A user or service account.")
    team = serializers.UUIDField(required=False)
    invitation = serializers.UUIDField(required=False)

    def validate(self, attrs):
        subjects = [name for name in ("user", "team", "invitation") if attrs.get(name)]
        if len(subjects) != 1:
            raise serializers.ValidationError("Give exactly one of user, team or invitation.")
        if not any(attrs.get(name) for name in ("organization", "tenant", "project")):
            raise serializers.ValidationError("Give an organization, a tenant or a project.")
        return attrs


class InvitationRoleSerializer(serializers.Serializer):
    role = serializers.SlugField()
    tenant = serializers.UUIDField(required=False)
    project = serializers.UUIDField(required=False)


class InvitationSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id")
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)
    roles = AssignmentRefSerializer(source="role_assignments", many=True, read_only=True)
    teams = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    pending = serializers.BooleanField(read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "organization", "email", "roles", "teams", "invited_by", "expires", "accepted", "pending"]
        read_only_fields = ["id", "expires", "accepted"]


class InvitationCreateSerializer(serializers.Serializer):
    organization = serializers.UUIDField()
    email = serializers.EmailField()
    roles = InvitationRoleSerializer(many=True, required=False, default=list)
    teams = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
    days = serializers.IntegerField(min_value=1, max_value=90, default=7)


class InvitationCreatedSerializer(InvitationSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once: the invitee accepts with it.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "token"]


class InvitationAcceptSerializer(serializers.Serializer):
    token = serializers.CharField()
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    full_name = serializers.CharField(required=False, default="", allow_blank=True)


class ServiceAccountSerializer(serializers.ModelSerializer):
    organization = serializers.UUIDField(source="organization_id")
    name = serializers.CharField(source="username", max_length=150)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = User
        fields = ["id", "organization", "name", "full_name", "description", "active", "last_login", "date_joined"]
        read_only_fields = ["id", "active", "last_login", "date_joined"]


class ServiceAccountUpdateSerializer(serializers.Serializer):
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class APIKeySerializer(serializers.ModelSerializer):
    service_account = serializers.UUIDField(source="service_account_id")

    class Meta:
        model = APIKey
        fields = [
            "id",
            "service_account",
            "name",
            "description",
            "active",
            "expires",
            "last_login",
            "last_rotated",
            "retain_period_minutes",
            "retained_until",
            "created",
        ]
        read_only_fields = ["id", "active", "last_login", "last_rotated", "retain_period_minutes", "retained_until"]
        read_only_fields += ["created"]


class APIKeyCreatedSerializer(APIKeySerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once: store it now.")

    class Meta(APIKeySerializer.Meta):
        fields = [*APIKeySerializer.Meta.fields, "key"]


class APIKeyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=255)
    description = serializers.CharField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    expires = serializers.DateTimeField(required=False, allow_null=True)


class APIKeyRotateSerializer(serializers.Serializer):
    retain_period_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, default=0)


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created",
            "organization",
            "tenant",
            "actor",
            "actor_name",
            "action",
            "resource_type",
            "resource_id",
            "resource_name",
            "via",
            "ip_address",
            "user_agent",
            "changes",
            "detail",
        ]
        read_only_fields = fields
