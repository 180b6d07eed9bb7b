"""Envelopes of the metadata store's entities; one class per resource, shaped as in ZenML's OpenAPI."""

from core.api.envelope import OwnedEnvelope
from mlmeta.models import Flavor
from tenants.api.envelopes import nested_user


class FlavorEnvelope(OwnedEnvelope):
    project_scoped = False

    def body(self, flavor) -> dict:
        return {
            **super().body(flavor),
            "type": flavor.type,
            "display_name": flavor.display_name or flavor.name,
            "integration": flavor.integration,
            "source": flavor.source,
            "logo_url": flavor.logo_url,
            "is_custom": flavor.is_custom,
        }

    def metadata(self, flavor) -> dict:
        return {
            "config_schema": flavor.config_schema,
            "connector_type": flavor.connector_type,
            "connector_resource_type": flavor.connector_resource_type,
            "connector_resource_id_attr": flavor.connector_resource_id_attr,
            "docs_url": flavor.docs_url,
            "sdk_docs_url": flavor.sdk_docs_url,
        }

    def resources(self, flavor) -> dict:
        return {"user": nested_user(flavor.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        queryset = queryset.select_related("user")
        return queryset if hydrate else queryset.defer("config_schema")


class ComponentEnvelope(OwnedEnvelope):
    """Components show their flavor's integration and logo; flavors are looked up once per page."""

    project_scoped = False

    def __init__(self, request=None, hydrate=False, flavors=None):
        super().__init__(request, hydrate)
        self.flavors = flavors if flavors is not None else {}

    def render_many(self, components) -> list[dict]:
        self.load_flavors(components)
        return super().render_many(components)

    def render(self, component) -> dict:
        if (component.type, component.flavor_name) not in self.flavors:
            self.load_flavors([component])
        return super().render(component)

    def load_flavors(self, components):
        components = list(components)
        if not components:
            return
        names = {c.flavor_name for c in components}
        found = Flavor.objects.filter(tenant_id=components[0].tenant_id, name__in=names).select_related("user")
        if not self.hydrate:
            found = found.defer("config_schema")
        self.flavors.update({(f.type, f.name): f for f in found})

    def flavor(self, component):
        return self.flavors.get((component.type, component.flavor_name))

    def body(self, component) -> dict:
        flavor = self.flavor(component)
        return {
            **super().body(component),
            "type": component.type,
            "flavor_name": component.flavor_name,
            "integration": flavor.integration if flavor else None,
            "logo_url": flavor.logo_url if flavor else None,
        }

    def metadata(self, component) -> dict:
        return {
            "configuration": component.configuration,
            "environment": component.environment,
            "secrets": component.secrets,
            "labels": component.labels,
            "connector_resource_id": component.connector_resource_id,
            "connector": None if component.connector_id is None else {"id": str(component.connector_id)},
        }

    def resources(self, component) -> dict:
        flavor = self.flavor(component)
        return {
            "user": nested_user(component.user),
            "flavor": FlavorEnvelope(self.request).render(flavor) if flavor else None,
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


class StackEnvelope(OwnedEnvelope):
    project_scoped = False
    resources_always = True

    def render_many(self, stacks) -> list[dict]:
        stacks = list(stacks)
        if self.hydrate:
            self.components = ComponentEnvelope(self.request)
            self.components.load_flavors([c for s in stacks for c in s.components.all()])
        return super().render_many(stacks)

    def render(self, stack) -> dict:
        if self.hydrate and not hasattr(self, "components"):
            self.components = ComponentEnvelope(self.request)
            self.components.load_flavors(stack.components.all())
        return super().render(stack)

    def metadata(self, stack) -> dict:
        grouped: dict[str, list] = {}
        for component in sorted(stack.components.all(), key=lambda c: c.type):
            grouped.setdefault(component.type, []).append(self.components.render(component))
        return {
            "components": grouped,
            "description": stack.description,
            "stack_spec_path": stack.stack_spec_path,
            "environment": stack.environment,
            "secrets": stack.secrets,
            "labels": stack.labels,
        }

    def resources(self, stack) -> dict:
        return {"user": nested_user(stack.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        queryset = queryset.select_related("user")
        return queryset.prefetch_related("components__user") if hydrate else queryset
