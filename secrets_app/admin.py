"""Secrets in the admin: metadata only. Values live in the tenant's backend and never reach
these pages (a Secret row holds value names, not values)."""

from django.contrib import admin

from secrets_app.models import Secret, ServiceConnector
from tenants.admin_base import RestrictedModelAdmin, related_filter, related_link


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
