"""The rules of stacks and stack components, shared by `/api/v1` (mlmeta.api.views.stacks) and
the dashboard's management pages (mlmeta.dashboard.stacks, mlmeta.dashboard.components).

Functions raise the API's errors (core.api.exceptions): the API answers them as ZenML does, the
dashboard shows their message on the form."""

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.validation import invalid, parse_uuid
from core.schema_forms import schema_errors
from mlmeta.choices import StackComponentType
from mlmeta.models import Flavor, Stack, StackComponent

REQUIRED_STACK_COMPONENTS = (StackComponentType.ORCHESTRATOR, StackComponentType.ARTIFACT_STORE)


# --- components ---------------------------------------------------------------------------------
def find_flavor(tenant, component_type, name) -> Flavor:
    """`tenant`: a tenant or its id."""
    flavor = Flavor.objects.filter(tenant=tenant, type=component_type, name=name).first()
    if flavor is None:
        raise EntityNotFound(f"Unable to find a flavor `{name}` for stack components of type `{component_type}`")
    return flavor


def check_configuration(flavor: Flavor, configuration) -> None:
    errors = schema_errors(flavor.config_schema, configuration)
    if errors:
        path, message = errors[0]
        field = ".".join(filter(None, ["configuration", path]))
        raise invalid(field, f"Invalid configuration for flavor `{flavor.name}`: {message}", configuration)


def ensure_component_unique(tenant, name, component_type) -> None:
    """`tenant`: a tenant or its id."""
    if StackComponent.objects.filter(tenant=tenant, type=component_type, name=name).exists():
        raise EntityExistsError(f"A {component_type} stack component with name '{name}' already exists.")


def create_component(tenant, user, name, component_type, flavor_name, configuration, **fields) -> StackComponent:
    """A new component of a flavor the tenant has, its configuration valid for that flavor;
    `fields` are the other columns (connector, environment, labels, ...)."""
    check_configuration(find_flavor(tenant, component_type, flavor_name), configuration)
    ensure_component_unique(tenant, name, component_type)
    return StackComponent.objects.create(
        tenant=tenant,
        user=user,
        name=name,
        type=component_type,
        flavor_name=flavor_name,
        configuration=configuration,
        **fields,
    )


def change_component(component: StackComponent, name=None, configuration=None) -> None:
    """Rename (the name must stay unique for its type) and reconfigure (valid for its flavor);
    None leaves a value as it is. The caller saves."""
    if name and name != component.name:
        ensure_component_unique(component.tenant_id, name, component.type)
        component.name = name
    if configuration is not None:
        check_configuration(find_flavor(component.tenant_id, component.type, component.flavor_name), configuration)
        component.configuration = configuration


def delete_component(component: StackComponent) -> None:
    """ZenML's rule: a component that is part of a stack, or the default one, stays."""
    stacks = list(component.stacks.order_by("name").values_list("name", flat=True))
    if stacks:
        raise IllegalOperationError(
            f"Stack component `{component.name}` is part of the stacks {', '.join(stacks)}; remove it from them first."
        )
    if component.name == "default" and component.user_id is None:
        raise IllegalOperationError("The default stack components cannot be deleted.")
    component.delete()


# --- stacks -------------------------------------------------------------------------------------
def is_default_stack(stack: Stack) -> bool:
    return stack.name == "default" and stack.user_id is None


def check_rename(stack: Stack, name) -> None:
    if is_default_stack(stack) and name not in (None, stack.name):
        raise IllegalOperationError("The default stack cannot be renamed.")


def create_stack(tenant, user, name, components_by_type: dict, **fields) -> Stack:
    components = resolve_components(user, tenant, components_by_type)
    stack = Stack.objects.create(tenant=tenant, user=user, name=name, **fields)
    stack.components.set(components)
    return stack


def delete_stack(stack: Stack) -> None:
    if is_default_stack(stack):
        raise IllegalOperationError("The default stack cannot be deleted.")
    stack.delete()


def resolve_components(user, tenant, by_type: dict) -> list[StackComponent]:
    """`{"orchestrator": [id], ...}`: one existing component per type, orchestrator and
    artifact store required, each one `user` may read in `tenant`."""
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
    readable = StackComponent.objects.restrict(user).filter(tenant=tenant, pk__in=[pk for _, pk in chosen])
    found = {(c.type, c.pk): c for c in readable}
    components = []
    for component_type, pk in chosen:
        if (component_type, pk) not in found:
            raise EntityNotFound(f"Unable to get stack component of type {component_type} with ID '{pk}'")
        components.append(found[(component_type, pk)])
    return components
