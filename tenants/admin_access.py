"""Admin of access control: teams, roles, role assignments, invitations, API keys and the audit
log. Every change of who may do what goes through tenants.access (checked against privilege
escalation and audited there); secrets (invitation tokens, key hashes) are never rendered, and a
new API key or invitation link is shown once, in a message."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from tenants import access
from tenants.admin_base import RestrictedModelAdmin, RestrictedModelForm, related_filter
from tenants.control_api.serializers import PERMISSION_CHOICES
from tenants.models import APIKey, AuditEvent, Invitation, Role, RoleAssignment, Team


class AccessAdmin(RestrictedModelAdmin):
    """tenants.access records its own audit events: the admin's generic ones would repeat them."""

    def log_addition(self, request, obj, message):
        return admin.ModelAdmin.log_addition(self, request, obj, message)

    def log_change(self, request, obj, message):
        return admin.ModelAdmin.log_change(self, request, obj, message)

    def log_deletions(self, request, queryset):
        return admin.ModelAdmin.log_deletions(self, request, queryset)


def _adopt(obj, created) -> None:
    """Make the admin's unsaved `obj` stand for the row tenants.access `created`."""
    obj.pk = created.pk
    obj._state.adding = False
    obj.__dict__.update({k: v for k, v in created.__dict__.items() if not k.startswith("_")})


@admin.register(Team)
class TeamAdmin(AccessAdmin):
    list_display = ("name", "organization", "created")
    list_filter = (related_filter("organization"),)
    search_fields = ("name",)
    filter_horizontal = ("members",)
    readonly_fields = ("created_by",)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        team = access.create_team(obj.organization, obj.name, description=obj.description, by=request.user)
        _adopt(obj, team)

    def save_related(self, request, form, formsets, change):
        """Members join and leave through tenants.access (joining a team gives its roles)."""
        wanted = set(form.cleaned_data.pop("members", []))
        team = form.instance
        current = set(team.members.all())
        super().save_related(request, form, formsets, change)
        for user in wanted - current:
            access.add_team_member(team, user, by=request.user, request=request)
        for user in current - wanted:
            access.remove_team_member(team, user, by=request.user, request=request)


class RoleForm(RestrictedModelForm):
    permissions = forms.MultipleChoiceField(
        choices=[(p, p) for p in PERMISSION_CHOICES], widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Role
        fields = ("organization", "slug", "name", "description", "level", "permissions")


@admin.register(Role)
class RoleAdmin(AccessAdmin):
    """Predefined roles are read-only; custom roles change through tenants.access, which refuses
    permissions the editor does not hold."""

    form = RoleForm
    list_display = ("name", "slug", "level", "organization", "builtin")
    list_filter = ("level", "builtin")
    search_fields = ("name", "slug")

    def has_change_permission(self, request, obj=None):
        return not (obj and obj.builtin) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.builtin) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ("organization", "slug", "level") if obj else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            stored = Role.objects.get(pk=obj.pk)
            fields = {name: data[name] for name in ("name", "description", "permissions")}
            _adopt(obj, access.update_role(stored, by=request.user, request=request, **fields))
            return
        role = access.create_role(
            data["organization"],
            name=data["name"],
            slug=data["slug"],
            level=data["level"],
            add=data["permissions"],
            description=data["description"],
            by=request.user,
            request=request,
        )
        _adopt(obj, role)

    def delete_model(self, request, obj):
        access.delete_role(obj, by=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for role in queryset:
            access.delete_role(role, by=request.user, request=request)


class RoleAssignmentForm(RestrictedModelForm):
    class Meta:
        model = RoleAssignment
        fields = ("organization", "role", "user", "team", "invitation", "tenant", "project")
        fields += ("resource_type", "resource_id")


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(AccessAdmin):
    """Assignments are created and deleted (never edited) through tenants.access."""

    form = RoleAssignmentForm
    list_display = ("role", "user", "team", "invitation", "scope_label", "created_by", "created")
    list_filter = ("role", related_filter("tenant"))
    search_fields = ("user__username", "team__name", "invitation__email", "role__slug")
    list_select_related = ("role", "user", "team", "invitation", "tenant", "project", "organization")

    def get_readonly_fields(self, request, obj=None):
        return ()  # the base would make `user` (here: the subject) its creator

    def get_exclude(self, request, obj=None):
        return ()  # the tenant is part of the scope, not derived from the project

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        scope = {
            "organization": obj.organization,
            "tenant": obj.tenant,
            "project": obj.project,
            "resource_type": obj.resource_type,
            "resource_id": obj.resource_id,
        }
        subject = {"user": obj.user, "team": obj.team, "invitation": obj.invitation}
        assignment, _ = access.grant(obj.role, by=request.user, request=request, **subject, **scope)
        _adopt(obj, assignment)

    def delete_model(self, request, obj):
        access.revoke_assignment(obj, by=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for assignment in queryset:
            access.revoke_assignment(assignment, by=request.user, request=request)


@admin.register(Invitation)
class InvitationAdmin(AccessAdmin):
    """Invitations are created here (roles are then added as role assignments to the
    invitation); the token is shown once, in a message, and never stored nor rendered."""

    list_display = ("email", "organization", "invited_by", "expires", "accepted")
    list_filter = (related_filter("organization"),)
    search_fields = ("email",)
    fields = ("organization", "email", "teams", "invited_by", "expires", "accepted", "accepted_by")

    def get_readonly_fields(self, request, obj=None):
        done = ("invited_by", "expires", "accepted", "accepted_by")
        return (*done, "organization", "email", "teams") if obj else done

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        teams = list(form.cleaned_data.get("teams", []))
        invitation, token = access.invite(obj.organization, obj.email, teams=teams, by=request.user, request=request)
        _adopt(obj, invitation)
        messages.warning(
            request,
            f"Invitation token for {obj.email}, shown only now: {token} (accepted with "
            "POST /api/control/v1/invitations/accept/ and a username and password)",
        )

    def save_related(self, request, form, formsets, change):
        form.cleaned_data.pop("teams", None)  # added by access.invite
        super().save_related(request, form, formsets, change)


class APIKeyForm(RestrictedModelForm):
    class Meta:
        model = APIKey
        fields = ("service_account", "name", "description", "expires", "active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "service_account" in self.fields:
            queryset = self.fields["service_account"].queryset
            self.fields["service_account"].queryset = queryset.filter(is_service_account=True)


@admin.register(APIKey)
class APIKeyAdmin(AccessAdmin):
    """API keys of service accounts; the key itself is shown once after creation (or rotation)."""

    form = APIKeyForm
    list_display = ("name", "service_account", "organization", "active", "expires", "last_login", "last_rotated")
    list_filter = ("active", related_filter("organization"))
    search_fields = ("name", "service_account__username")
    readonly_fields = ("organization", "last_login", "last_rotated", "retained_until", "created_by")
    actions = ("rotate_keys",)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(self.readonly_fields)
        return (*fields, "service_account") if obj else fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            stored = APIKey.objects.select_related("service_account").get(pk=obj.pk)
            fields = {name: data[name] for name in ("name", "description", "expires", "active")}
            _adopt(obj, access.update_api_key(stored, by=request.user, request=request, **fields))
            return
        key, plaintext = access.issue_api_key(
            data["service_account"],
            data["name"],
            expires=data["expires"],
            description=data["description"],
            by=request.user,
            request=request,
        )
        _adopt(obj, key)
        messages.warning(request, f"The new API key, shown only now: {plaintext}")

    @admin.action(description="Rotate the selected keys (the old secrets stop working at once)")
    def rotate_keys(self, request, queryset):
        for key in queryset.select_related("service_account"):
            try:
                plaintext = access.rotate_api_key(key, by=request.user, request=request)
            except PermissionDenied as exc:
                messages.error(request, f"{key}: {exc}")
                continue
            messages.warning(request, f"New key for {key}, shown only now: {plaintext}")


@admin.register(AuditEvent)
class AuditEventAdmin(RestrictedModelAdmin):
    """The audit trail: read-only."""

    list_display = ("created", "actor_name", "action", "resource_type", "resource_name", "tenant", "via", "ip_address")
    list_filter = ("action", "resource_type", related_filter("tenant"))
    search_fields = ("actor_name", "resource_name", "resource_id", "detail")
    date_hierarchy = None
    list_select_related = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
