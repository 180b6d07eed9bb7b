"""Admin of organizations' single sign-on: who may edit an organization may set up its SSO. The
client secret is write-only: the form never renders it, an empty field keeps the stored one."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied

from tenants import rbac
from tenants.admin_base import RestrictedModelAdmin, RestrictedModelForm
from tenants.models import OrganizationSSO


class OrganizationSSOForm(RestrictedModelForm):
    issuer = forms.URLField(
        max_length=1024,
        assume_scheme="https",
        help_text=OrganizationSSO._meta.get_field("issuer").help_text,
    )
    client_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: it is stored encrypted and never shown. Leave empty to keep the stored secret.",
    )

    class Meta:
        model = OrganizationSSO
        fields = "__all__"

    def clean_client_secret(self):
        value = self.cleaned_data.get("client_secret", "")
        if not value and not self.instance.client_secret_sealed:
            raise forms.ValidationError("The provider's client secret is required.")
        return value

    def save(self, commit=True):
        if self.cleaned_data.get("client_secret"):
            self.instance.client_secret = self.cleaned_data["client_secret"]
        return super().save(commit)


@admin.register(OrganizationSSO)
class OrganizationSSOAdmin(RestrictedModelAdmin):
    form = OrganizationSSOForm
    list_display = ("organization", "enabled", "issuer", "jit_provisioning", "updated")
    list_filter = ("enabled",)
    search_fields = ("organization__name", "organization__slug", "issuer")
    readonly_fields = ("id", "created", "updated")
    fieldsets = (
        (None, {"fields": ("organization", "enabled")}),
        ("Provider", {"fields": ("issuer", "client_id", "client_secret", "scopes")}),
        ("Claims", {"fields": ("email_claim", "name_claim", "groups_claim", "group_teams")}),
        ("Provisioning", {"fields": ("jit_provisioning", "allowed_domains", "default_role", "default_tenant")}),
        ("Record", {"fields": ("id", "created", "updated")}),
    )

    def has_add_permission(self, request):
        return self.admin_site.has_permission(request) and rbac.can_somewhere(request.user, "update", "organization")

    def has_delete_permission(self, request, obj=None):
        return self._allows(request, "update", obj)

    def save_model(self, request, obj, form, change):
        if not rbac.check(request.user, "update", obj.organization):
            raise PermissionDenied("You may not change this organization's single sign-on.")
        admin.ModelAdmin.save_model(self, request, obj, form, change)
