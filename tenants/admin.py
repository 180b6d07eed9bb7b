from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import transaction

from core.paginators import CappedCountPaginator
from tenants import access
from tenants.admin_base import (
    RestrictedAdminMixin,
    RestrictedModelAdmin,
    RestrictedTabularInline,
    changelist_link,
    link,
    related_filter,
)
from tenants.models import Membership, Organization, Project, Tenant, User
from tenants.services import create_tenant


def _is_operator(request) -> bool:
    return request.user.is_active and request.user.is_superuser


class TenantInline(RestrictedTabularInline):
    model = Tenant
    fields = ("name", "slug", "active", "is_default")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(RestrictedModelAdmin):
    """Organizations are managed by the deployment's operators; members see their own."""

    list_display = ("name", "slug", "created")
    search_fields = ("name", "slug")
    readonly_fields = ("id", "created", "updated")
    inlines = (TenantInline,)

    def has_add_permission(self, request):
        return _is_operator(request)

    def has_change_permission(self, request, obj=None):
        return _is_operator(request)

    def has_delete_permission(self, request, obj=None):
        return _is_operator(request)


SECRETS_BACKEND_HELP = (
    "Where the tenant's secret values live. Changed only by moving them: "
    "manage.py migrate_secrets --tenant SLUG --to BACKEND."
)


@admin.register(Tenant)
class TenantAdmin(RestrictedModelAdmin):
    """Members may edit a tenant's display settings; creating, deleting, renaming its URL,
    (de)activating it or moving its secrets backend is for operators."""

    list_display = ("name", "slug", "organization_link", "active", "is_default", "created")
    list_filter = ("active", "is_default", related_filter("organization"))
    list_select_related = ("organization",)
    search_fields = ("name", "slug")
    operator_fields = ("organization", "slug", "active", "is_default", "secrets_backend")

    @admin.display(description="organization", ordering="organization__name")
    def organization_link(self, obj):
        return link(obj.organization)

    @admin.display(description="projects")
    def project_list(self, obj):
        return changelist_link(Project, "Projects of this tenant", tenant__id__exact=obj.pk)

    def get_fields(self, request, obj=None):
        return ("organization", "slug", "name", "is_default") if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # The secrets backend changes only with the values: `manage.py migrate_secrets`.
        fields = ["id", "created", "updated", "last_user_activity", "project_list", "secrets_backend"]
        return fields if _is_operator(request) else [*self.operator_fields, *fields]

    def get_form(self, request, obj=None, change=False, **kwargs):
        help_texts = {"secrets_backend": SECRETS_BACKEND_HELP, **kwargs.pop("help_texts", {})}
        return super().get_form(request, obj, change=change, help_texts=help_texts, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # The one creation path (default project, mlmeta's flavors and default stack).
        tenant = create_tenant(obj.slug, obj.name, obj.organization, obj.is_default, user=request.user)
        obj.__dict__.update(tenant.__dict__)  # the admin goes on with `obj` (log entry, redirect)
        return None

    def has_add_permission(self, request):
        return _is_operator(request)

    def has_delete_permission(self, request, obj=None):
        return _is_operator(request)


@admin.register(Project)
class ProjectAdmin(RestrictedModelAdmin):
    list_display = ("name", "display_name", "tenant_link", "user", "created")
    list_filter = (related_filter("tenant"),)
    list_select_related = ("tenant", "user")
    search_fields = ("name", "display_name")
    readonly_fields = ("id", "created", "updated")

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_link(self, obj):
        return link(obj.tenant)


@admin.register(Membership)
class MembershipAdmin(RestrictedModelAdmin):
    list_display = ("member_link", "tenant_link", "user", "created")
    list_filter = (related_filter("tenant"),)
    list_select_related = ("member", "tenant", "user")
    search_fields = ("member__username", "member__email")
    search_help_text = "Search by username or email, or paste an exact id."
    autocomplete_fields = ("member",)
    readonly_fields = ("id", "created")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else [*fields, "member"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        access.add_member(obj.tenant, obj.member, by=request.user)

    def delete_model(self, request, obj):
        access.remove_member(obj.tenant, obj.member)

    @admin.display(description="member", ordering="member__username")
    def member_link(self, obj):
        return link(obj.member)

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_link(self, obj):
        return link(obj.tenant)


class MembershipInline(RestrictedTabularInline):
    model = Membership
    fk_name = "member"
    fields = ("tenant", "user", "created")
    readonly_fields = ("user", "created")
    show_change_link = False

    def _may_edit(self, request, obj):
        return obj is None or _is_operator(request) or obj.pk == request.user.pk

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_edit(request, obj)


class UserAddForm(AdminUserCreationForm):
    """A new user joins one of the creator's tenants, so the creator can still see them."""

    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), help_text="The new user joins this tenant.")
    request = None

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = Tenant.objects.restrict(self.request.user).filter(active=True)
        self.fields["tenant"].required = not self.request.user.is_superuser


@admin.register(User)
class UserAdmin(RestrictedAdminMixin, DjangoUserAdmin):
    """Members see the users of their tenants and edit their own account; only operators edit
    other accounts, delete users or grant staff and superuser status."""

    form = UserChangeForm
    add_form = UserAddForm
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "tenant", "usable_password", "password1", "password2")}),
    )
    list_display = ("username", "full_name", "email", "is_active", "is_superuser", "date_joined")
    list_filter = ("is_active", "is_superuser", "is_service_account", related_filter("memberships__tenant"))
    search_fields = ("username", "full_name", "email")
    search_help_text = "Search by username, name or email."
    ordering = ("username",)
    inlines = (MembershipInline,)
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    own_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("full_name", "first_name", "last_name", "email", "avatar_url")}),
        ("Dates", {"fields": ("last_login", "date_joined", "password_changed_at")}),
    )
    operator_fieldsets = (
        *own_fieldsets,
        (
            "Status and permissions",
            {
                "fields": (
                    "is_active",
                    "is_service_account",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("More", {"classes": ("collapse",), "fields": ("external_user_id", "email_opted_in", "user_metadata")}),
    )
    filter_horizontal = ("groups", "user_permissions")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return self.operator_fieldsets if _is_operator(request) else self.own_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ("last_login", "date_joined", "password_changed_at")

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()  # the add form asks for the tenant itself

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request = request
        return form

    def has_module_permission(self, request):
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request):
        return self._allows(request, "create")

    def has_view_permission(self, request, obj=None):
        if obj is not None and obj.pk == request.user.pk:
            return self.admin_site.has_permission(request)
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if _is_operator(request):
            return True
        return self._allows(request, "update") and (obj is None or obj.pk == request.user.pk)

    def has_delete_permission(self, request, obj=None):
        return _is_operator(request)

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        tenant = form.cleaned_data.get("tenant") if not change else None
        if tenant is not None:
            access.add_member(tenant, obj, by=request.user)


from tenants import admin_access  # noqa: E402, F401, I001  (registers the access-control admin)
from tenants import admin_sso  # noqa: E402, F401  (registers the SSO admin)
