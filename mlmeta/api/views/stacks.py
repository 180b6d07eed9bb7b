import jsonschema
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.validation import invalid, parse_uuid
from core.api.views import ZenViewSet
from mlmeta import seeding
from mlmeta.api import references
from mlmeta.api.envelopes.stacks import ComponentEnvelope, FlavorEnvelope, StackEnvelope
from mlmeta.api.filtersets.stacks import ComponentFilterSet, FlavorFilterSet, StackFilterSet
from mlmeta.choices import StackComponentType
from mlmeta.models import Flavor, Stack, StackComponent
from secrets_app.models import ServiceConnector
from tenants import rbac

REQUIRED_STACK_COMPONENTS = (StackComponentType.ORCHESTRATOR, StackComponentType.ARTIFACT_STORE)
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
        flavor = self.find_flavor(data["type"], data["flavor"])
        self.check_configuration(flavor, data.get("configuration") or {})
        self.ensure_unique(data["name"], data["type"])
        return StackComponent.objects.create(
            tenant=self.request.tenant,
            user=self.request.user,
            name=data["name"],
            type=data["type"],
            flavor_name=data["flavor"],
            configuration=data.get("configuration") or {},
            environment=data.get("environment") or {},
            secrets=[str(s) for s in data.get("secrets") or []],
            labels=data.get("labels"),
            connector=self.connector(data.get("connector")),
            connector_resource_id=data.get("connector_resource_id"),
        )

    def perform_update(self, component, data):
        if data.get("name") and data["name"] != component.name:
            self.ensure_unique(data["name"], component.type)
            component.name = data["name"]
        if data.get("configuration") is not None:
            self.check_configuration(self.find_flavor(component.type, component.flavor_name), data["configuration"])
            component.configuration = data["configuration"]
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
        stacks = list(component.stacks.values_list("name", flat=True))
        if stacks:
            raise IllegalOperationError(
                f"Stack component `{component.name}` is part of the stacks {', '.join(stacks)}; "
                "remove it from them first."
            )
        if component.name == "default" and component.user_id is None:
            raise IllegalOperationError("The default stack components cannot be deleted.")
        component.delete()

    def connector(self, value):
        """The service connector given by id, if the caller may see it in this tenant (None stays None)."""
        return references.resolve(self.request, ServiceConnector, value, "connector", "service connector")

    def find_flavor(self, component_type, name):
        flavor = Flavor.objects.filter(tenant=self.request.tenant, type=component_type, name=name).first()
        if flavor is None:
            raise EntityNotFound(f"Unable to find a flavor `{name}` for stack components of type `{component_type}`")
        return flavor

    @staticmethod
    def check_configuration(flavor, configuration):
        schema = flavor.config_schema or {}
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(configuration), key=lambda e: e.path)
        if errors:
            error = errors[0]
            field = ".".join(["configuration", *map(str, error.absolute_path)])
            raise invalid(field, f"Invalid configuration for flavor `{flavor.name}`: {error.message}", configuration)

    def ensure_unique(self, name, component_type):
        if StackComponent.objects.filter(tenant=self.request.tenant, type=component_type, name=name).exists():
            raise EntityExistsError(f"A {component_type} stack component with name '{name}' already exists.")


class StackViewSet(ZenViewSet):
    model = Stack
    envelope_class = StackEnvelope
    filterset_class = StackFilterSet
    create_schema = "StackRequest"
    update_schema = "StackUpdate"
    label = "stack"
    unique_message = "Stack with name `{name}` already exists."

    def perform_create(self, data):
        components = self.resolve_components(data["components"])
        stack = Stack.objects.create(
            tenant=self.request.tenant,
            user=self.request.user,
            name=data["name"],
            description=data.get("description") or "",
            stack_spec_path=data.get("stack_spec_path"),
            environment=data.get("environment") or {},
            secrets=[str(s) for s in data.get("secrets") or []],
            labels=data.get("labels"),
        )
        stack.components.set(components)
        return stack

    def perform_update(self, stack, data):
        if self.is_default(stack) and data.get("name") not in (None, stack.name):
            raise IllegalOperationError("The default stack cannot be renamed.")
        for field in ("name", "description", "stack_spec_path", "environment", "labels"):
            if data.get(field) is not None:
                setattr(stack, field, data[field])
        secrets = [s for s in stack.secrets if s not in {str(x) for x in data.get("remove_secrets") or []}]
        stack.secrets = secrets + [str(s) for s in data.get("add_secrets") or [] if str(s) not in secrets]
        stack.save()
        if data.get("components") is not None:
            stack.components.set(self.resolve_components(data["components"]))
        return stack

    def perform_destroy(self, stack):
        if self.is_default(stack):
            raise IllegalOperationError("The default stack cannot be deleted.")
        stack.delete()

    @staticmethod
    def is_default(stack):
        return stack.name == "default" and stack.user_id is None

    def resolve_components(self, by_type: dict) -> list:
        """`{"orchestrator": [id], ...}`: one existing component per type, orchestrator and store required."""
        chosen = []
        for component_type, ids in by_type.items():
            if component_type not in StackComponentType.values:
                raise invalid(f"components.{component_type}", "Unknown stack component type", ids)
            if not isinstance(ids, list) or len(ids) != 1:
                raise invalid(f"components.{component_type}", "A stack takes exactly one component per type", ids)
            chosen.append((component_type, parse_uuid(ids[0], f"components.{component_type}")))
        missing = [t for t in REQUIRED_STACK_COMPONENTS if t not in dict(chosen)]
        if missing:
            raise invalid(
                "components",
                f"A stack needs an orchestrator and an artifact store; missing: {', '.join(missing)}",
                by_type,
            )
        found = {
            (c.type, c.pk): c
            for c in StackComponent.objects.restrict(self.request.user).filter(
                tenant=self.request.tenant, pk__in=[pk for _, pk in chosen]
            )
        }
        components = []
        for component_type, pk in chosen:
            if (component_type, pk) not in found:
                raise EntityNotFound(f"Unable to get stack component of type {component_type} with ID '{pk}'")
            components.append(found[(component_type, pk)])
        return components
