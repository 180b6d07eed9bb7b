from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import IllegalOperationError
from core.api.views import ZenViewSet
from mlmeta import seeding, stack_services
from mlmeta.api import references
from mlmeta.api.envelopes.stacks import ComponentEnvelope, FlavorEnvelope, StackEnvelope
from mlmeta.api.filtersets.stacks import ComponentFilterSet, FlavorFilterSet, StackFilterSet
from mlmeta.models import Flavor, Stack, StackComponent
from secrets_app.models import ServiceConnector
from tenants import rbac

FLAVOR_FIELDS = (
    "name",
    "display_name",
    "type",
    "config_schema",
    "connector_type",
    "connector_resource_type",
    "connector_resource_id_attr",
    "source",
    "integration",
    "logo_url",
    "docs_url",
    "sdk_docs_url",
)


class FlavorViewSet(ZenViewSet):
    model = Flavor
    envelope_class = FlavorEnvelope
    filterset_class = FlavorFilterSet
    create_schema = "FlavorRequest"
    update_schema = "FlavorUpdate"
    label = "flavor"
    unique_message = "A flavor with this name and type already exists: `{name}`."

    def perform_create(self, data):
        values = {field: data.get(field) for field in FLAVOR_FIELDS if data.get(field) is not None}
        return Flavor.objects.create(tenant=self.request.tenant, user=self.request.user, is_custom=True, **values)

    def perform_update(self, flavor, data):
        if not flavor.is_custom:
            raise IllegalOperationError("Built-in flavors cannot be changed.")
        for field in FLAVOR_FIELDS:
            if data.get(field) is not None:
                setattr(flavor, field, data[field])
        flavor.save()
        return flavor

    @action(detail=False, methods=["patch"])
    def sync(self, request):
        """Refresh the built-in flavors, adding, changing and deleting them: whoever may do all
        three to the tenant's flavors (its admins and stack admins)."""
        for needed in ("create", "update", "delete"):
            if not rbac.can(request.user, needed, "flavor", tenant=request.tenant):
                self.deny(needed)
        seeding.sync_flavors(request.tenant)
        return Response(None)

    def perform_destroy(self, flavor):
        if not flavor.is_custom:
            raise IllegalOperationError("Built-in flavors cannot be deleted.")
        if StackComponent.objects.filter(tenant=flavor.tenant, type=flavor.type, flavor_name=flavor.name).exists():
            raise IllegalOperationError(f"Flavor `{flavor.name}` is used by stack components.")
        flavor.delete()


class ComponentViewSet(ZenViewSet):
    model = StackComponent
    envelope_class = ComponentEnvelope
    filterset_class = ComponentFilterSet
    create_schema = "ComponentRequest"
    update_schema = "ComponentUpdate"
    label = "stack component"

    def perform_create(self, data):
        return stack_services.create_component(
            self.request.tenant,
            self.request.user,
            data["name"],
            data["type"],
            data["flavor"],
            data.get("configuration") or {},
            environment=data.get("environment") or {},
            secrets=[str(s) for s in data.get("secrets") or []],
            labels=data.get("labels"),
            connector=self.connector(data.get("connector")),
            connector_resource_id=data.get("connector_resource_id"),
        )

    def perform_update(self, component, data):
        stack_services.change_component(component, data.get("name"), data.get("configuration"))
        for field in ("environment", "labels", "connector_resource_id"):
            if data.get(field) is not None:
                setattr(component, field, data[field])
        if "connector" in data:
            component.connector = self.connector(data["connector"])
        secrets = [s for s in component.secrets if s not in {str(x) for x in data.get("remove_secrets") or []}]
        component.secrets = secrets + [str(s) for s in data.get("add_secrets") or [] if str(s) not in secrets]
        component.save()
        return component

    def perform_destroy(self, component):
        stack_services.delete_component(component)

    def connector(self, value):
        """The service connector given by id, if the caller may see it in this tenant (None stays None)."""
        return references.resolve(self.request, ServiceConnector, value, "connector", "service connector")


class StackViewSet(ZenViewSet):
    model = Stack
    envelope_class = StackEnvelope
    filterset_class = StackFilterSet
    create_schema = "StackRequest"
    update_schema = "StackUpdate"
    label = "stack"
    unique_message = "Stack with name `{name}` already exists."

    def perform_create(self, data):
        return stack_services.create_stack(
            self.request.tenant,
            self.request.user,
            data["name"],
            data["components"],
            description=data.get("description") or "",
            stack_spec_path=data.get("stack_spec_path"),
            environment=data.get("environment") or {},
            secrets=[str(s) for s in data.get("secrets") or []],
            labels=data.get("labels"),
        )

    def perform_update(self, stack, data):
        stack_services.check_rename(stack, data.get("name"))
        for field in ("name", "description", "stack_spec_path", "environment", "labels"):
            if data.get(field) is not None:
                setattr(stack, field, data[field])
        secrets = [s for s in stack.secrets if s not in {str(x) for x in data.get("remove_secrets") or []}]
        stack.secrets = secrets + [str(s) for s in data.get("add_secrets") or [] if str(s) not in secrets]
        stack.save()
        if data.get("components") is not None:
            components = stack_services.resolve_components(self.request.user, self.request.tenant, data["components"])
            stack.components.set(components)
        return stack

    def perform_destroy(self, stack):
        stack_services.delete_stack(stack)
