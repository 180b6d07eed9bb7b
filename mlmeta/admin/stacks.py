from collections import Counter

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from mlmeta.choices import StackComponentType
from mlmeta.models import Flavor, Stack, StackComponent
from tenants.admin_base import (
    RestrictedModelAdmin,
    RestrictedModelForm,
    admin_url,
    changelist_link,
    json_field,
    link,
    related_filter,
    related_link,
)

REQUIRED_COMPONENTS = (StackComponentType.ORCHESTRATOR, StackComponentType.ARTIFACT_STORE)


class StackForm(RestrictedModelForm):
    def clean_components(self):
        components = self.cleaned_data["components"]
        types = Counter(component.type for component in components)
        errors = []
        doubled = sorted(kind for kind, count in types.items() if count > 1)
        if doubled:
            errors.append(f"A stack has at most one component per type; repeated: {', '.join(doubled)}.")
        missing = [kind.label.lower() for kind in REQUIRED_COMPONENTS if kind not in types]
        if missing:
            errors.append(f"A stack needs an {' and an '.join(missing)}.")
        if errors:
            raise forms.ValidationError(errors)
        return components


@admin.register(Stack)
class StackAdmin(RestrictedModelAdmin):
    form = StackForm
    list_display = ("name", "component_links", "tenant_link", "user", "created")
    list_filter = (related_filter("tenant"),)
    list_select_related = ("tenant", "user")
    search_fields = ("name",)
    autocomplete_fields = ("components",)
    readonly_fields = ("id", "created", "updated")

    tenant_link = related_link("tenant")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("components")

    @admin.display(description="components")
    def component_links(self, obj):
        return format_html_join(", ", '<a href="{}">{}</a>', ((admin_url(c), c) for c in obj.components.all())) or "-"


def sensitive_keys(flavor) -> set[str]:
    properties = ((flavor.config_schema if flavor else None) or {}).get("properties", {})
    return {key for key, spec in properties.items() if isinstance(spec, dict) and spec.get("sensitive")}


class StackComponentForm(RestrictedModelForm):
    """Sensitive configuration values (per the flavor's schema) are shown masked; a value left
    masked keeps what was stored."""

    mask = "********"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sensitive = set()
        if not self.instance._state.adding and "configuration" in self.fields:
            self.sensitive = sensitive_keys(self.instance.get_flavor())
            stored = self.instance.configuration or {}
            self.initial["configuration"] = {
                key: self.mask if key in self.sensitive and value not in (None, "") else value
                for key, value in stored.items()
            }

    def clean_configuration(self):
        configuration = self.cleaned_data["configuration"] or {}
        if not isinstance(configuration, dict):
            raise forms.ValidationError("The configuration is a JSON object.")
        stored = self.instance.configuration or {}
        for key in self.sensitive:
            if configuration.get(key) == self.mask and key in stored:
                configuration[key] = stored[key]
        return configuration

    def clean(self):
        cleaned = super().clean()
        tenant_id = self.scope[0]
        kind, flavor_name = cleaned.get("type", self.instance.type), cleaned.get("flavor_name")
        flavors = Flavor.objects.filter(tenant_id=tenant_id, type=kind, name=flavor_name)
        if tenant_id and kind and flavor_name and not flavors.exists():
            self.add_error("flavor_name", f"This tenant has no {kind} flavor named {flavor_name!r}.")
        return cleaned


@admin.register(StackComponent)
class StackComponentAdmin(RestrictedModelAdmin):
    form = StackComponentForm
    list_display = ("name", "type", "flavor_link", "tenant_link", "connector_link", "user", "created")
    list_filter = ("type", related_filter("tenant"))
    list_select_related = ("tenant", "connector", "user")
    search_fields = ("name", "flavor_name")
    search_help_text = "Search by name or flavor, or paste an exact id."
    autocomplete_fields = ("connector",)
    fields = (
        "name",
        "tenant",
        "type",
        "flavor_name",
        "flavor",
        "configuration",
        "environment",
        "secrets",
        "labels",
        "connector",
        "connector_resource_id",
        "stack_list",
        "user",
        "id",
        "created",
        "updated",
    )
    readonly_fields = ("id", "flavor", "stack_list", "created", "updated")

    tenant_link = related_link("tenant")
    connector_link = related_link("connector")

    def get_queryset(self, request):
        flavors = Flavor.objects.filter(
            tenant_id=OuterRef("tenant_id"), type=OuterRef("type"), name=OuterRef("flavor_name")
        )
        return super().get_queryset(request).annotate(flavor_pk=Subquery(flavors.values("pk")[:1]))

    @admin.display(description="flavor", ordering="flavor_name")
    def flavor_link(self, obj):
        if obj.flavor_pk is None:
            return obj.flavor_name
        url = reverse("admin:mlmeta_flavor_change", args=[obj.flavor_pk])
        return format_html('<a href="{}">{}</a>', url, obj.flavor_name)

    @admin.display(description="flavor")
    def flavor(self, obj):
        return link(obj.get_flavor()) if obj.pk else "-"

    @admin.display(description="stacks")
    def stack_list(self, obj):
        return changelist_link(Stack, "Stacks with this component", components__id__exact=obj.pk) if obj.pk else "-"


@admin.register(Flavor)
class FlavorAdmin(RestrictedModelAdmin):
    list_display = ("name", "type", "display_name", "integration", "is_custom", "tenant_link", "created")
    list_filter = ("type", "is_custom", related_filter("tenant"))
    list_select_related = ("tenant",)
    search_fields = ("name", "display_name", "integration")
    search_help_text = "Search by name or integration, or paste an exact id."
    exclude = ("config_schema",)
    readonly_fields = ("id", "component_list", "config_schema_json", "created", "updated")

    tenant_link = related_link("tenant")
    config_schema_json = json_field("config_schema")

    @admin.display(description="components")
    def component_list(self, obj):
        if obj.pk is None:
            return "-"
        return changelist_link(
            StackComponent,
            "Components of this flavor",
            tenant__id__exact=obj.tenant_id,
            type__exact=obj.type,
            flavor_name=obj.name,
        )
