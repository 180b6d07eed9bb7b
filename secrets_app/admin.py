"""Secrets in the admin: metadata only. Values live in the tenant's backend and never reach
these pages (a Secret row holds value names, not values)."""

from django import forms
from django.contrib import admin

from secrets_app.models import Secret, SecretBackendConfig, ServiceConnector
from secrets_app.models.backend_configs import CREDENTIALS
from tenants.admin_base import RestrictedModelAdmin, RestrictedModelForm, related_filter, related_link


@admin.register(Secret)
class SecretAdmin(RestrictedModelAdmin):
    list_display = ("name", "tenant_link", "private", "backend", "key_names", "user", "created")
    list_filter = ("private", "backend", related_filter("tenant"))
    list_select_related = ("tenant", "user")
    search_fields = ("name",)
    fields = ("name", "tenant", "private", "backend", "key_names", "user", "id", "created", "updated")
    readonly_fields = ("id", "backend", "key_names", "created", "updated")

    tenant_link = related_link("tenant")

    @admin.display(description="keys")
    def key_names(self, obj):
        return ", ".join(obj.keys or ()) or "-"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.backend = obj.tenant.secrets_backend  # values go to the tenant's store
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        obj.delete_with_values()  # also from OpenBao, which a cascade would not reach

    def delete_queryset(self, request, queryset):
        for secret in queryset:
            secret.delete_with_values()


class SecretBackendConfigForm(RestrictedModelForm):
    """Credentials are write-only: typed in, encrypted, never rendered back."""

    token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="For token authentication. Leave empty to keep the stored one.",
    )
    secret_id = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="For AppRole authentication. Leave empty to keep the stored one.",
    )

    def clean(self):
        cleaned = super().clean()
        for name in CREDENTIALS:
            if cleaned.get(name):
                self.instance.set_credential(name, cleaned[name])
        return cleaned


@admin.register(SecretBackendConfig)
class SecretBackendConfigAdmin(RestrictedModelAdmin):
    """Members see their tenant's configurations (never the credentials); only operators change
    them, since a configuration makes the server connect to an address of its choosing."""

    form = SecretBackendConfigForm
    list_display = ("tenant_link", "role", "backend", "address", "mount", "path_prefix", "auth_method", "has_creds")
    list_filter = ("role", "backend", related_filter("tenant"))
    list_select_related = ("tenant",)
    search_fields = ("tenant__slug", "address")
    search_help_text = "Search by tenant slug or address."
    fields = (
        "tenant",
        "role",
        "backend",
        "address",
        "mount",
        "path_prefix",
        "auth_method",
        "token",
        "role_id",
        "secret_id",
        "tls_verify",
        "ca_bundle",
        "has_creds",
        "id",
        "created",
        "updated",
    )
    readonly_fields = ("id", "has_creds", "created", "updated")

    tenant_link = related_link("tenant")

    @admin.display(description="credentials stored", boolean=True)
    def has_creds(self, obj):
        return any(obj.has_credential(name) for name in CREDENTIALS)

    def _allows(self, request, action, obj=None):
        if action != "read" and not request.user.is_superuser:
            return False
        return super()._allows(request, action, obj)


@admin.register(ServiceConnector)
class ServiceConnectorAdmin(RestrictedModelAdmin):
    list_display = (
        "name",
        "connector_type",
        "auth_method",
        "resource_type_list",
        "tenant_link",
        "expires_at",
        "created",
    )
    list_filter = ("connector_type", "auth_method", related_filter("tenant"))
    list_select_related = ("tenant",)
    search_fields = ("name", "connector_type", "resource_id")
    search_help_text = "Search by name, type or resource id, or paste an exact id."
    readonly_fields = ("id", "has_credentials", "created", "updated")

    tenant_link = related_link("tenant")

    @admin.display(description="resource types")
    def resource_type_list(self, obj):
        return ", ".join(obj.resource_types or ()) or "-"

    @admin.display(description="credentials stored", boolean=True)
    def has_credentials(self, obj):
        return obj.secret_id is not None

    def delete_model(self, request, obj):
        obj.delete_with_secret()  # its internal secret goes with it, values included

    def delete_queryset(self, request, queryset):
        for connector in queryset:
            connector.delete_with_secret()
