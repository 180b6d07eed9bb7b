"""What every tenant starts with, as on a new ZenML server (wire.md section 4): the built-in
flavors and the `default` stack of three `default` components. Seeding is idempotent, so the
same code seeds a new tenant and repairs an existing one."""

import copy
import functools
import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from mlmeta.choices import StackComponentType
from mlmeta.models import Flavor, Stack, StackComponent

FLAVORS_FILE = Path(__file__).resolve().parent / "data" / "flavors.json"
DEFAULT_NAME = "default"
# (component type, flavor) of the default stack's components.
DEFAULT_COMPONENTS = (
    (StackComponentType.ORCHESTRATOR, "local"),
    (StackComponentType.ARTIFACT_STORE, "local"),
    (StackComponentType.DEPLOYER, "local"),
)


@functools.cache
def builtin_flavors() -> tuple[dict, ...]:
    """ZenML 0.98.0's built-in flavors, read once per process."""
    return tuple(json.loads(FLAVORS_FILE.read_text()))


def seed_tenant(tenant) -> dict[str, int]:
    """Create the tenant's missing built-in flavors and default stack; returns what was created."""
    with transaction.atomic():
        flavors = seed_flavors(tenant)
        stack, components = seed_default_stack(tenant)
    return {"built-in flavors": flavors, "default stack": stack, "default stack components": components}


def seed_flavors(tenant) -> int:
    existing = set(Flavor.objects.filter(tenant=tenant).values_list("type", "name"))
    missing = [
        Flavor(
            tenant=tenant,
            user=None,
            **{**spec, "config_schema": copy.deepcopy(spec["config_schema"]), "is_custom": False},
        )
        for spec in builtin_flavors()
        if (spec["type"], spec["name"]) not in existing
    ]
    Flavor.objects.bulk_create(missing)
    return len(missing)


def sync_flavors(tenant) -> int:
    """ZenML's flavor sync: built-in flavors are reset to what this version ships (missing ones
    created, ones it no longer ships removed); custom flavors stay. Returns the number created."""
    specs = {(spec["type"], spec["name"]): spec for spec in builtin_flavors()}
    with transaction.atomic():
        builtins = list(Flavor.objects.select_for_update().filter(tenant=tenant, is_custom=False))
        gone = [flavor.pk for flavor in builtins if (flavor.type, flavor.name) not in specs]
        Flavor.objects.filter(pk__in=gone).delete()
        kept = [flavor for flavor in builtins if flavor.pk not in set(gone)]
        now = timezone.now()
        for flavor in kept:
            for field, value in specs[(flavor.type, flavor.name)].items():
                setattr(flavor, field, copy.deepcopy(value))
            flavor.updated = now
        fields = sorted({field for spec in specs.values() for field in spec} - {"type", "name"} | {"updated"})
        Flavor.objects.bulk_update(kept, fields)
        return seed_flavors(tenant)


def seed_default_stack(tenant) -> tuple[int, int]:
    """The `default` stack (no owner) with its components; a component missing from an existing
    default stack is put back, other changes are left alone. Returns (stacks, components) created."""
    stack, stack_created = Stack.objects.get_or_create(
        tenant=tenant, name=DEFAULT_NAME, defaults={"user": None, "description": "", "labels": {}}
    )
    present_types = set(stack.components.values_list("type", flat=True))
    components_created = 0
    for component_type, flavor in DEFAULT_COMPONENTS:
        component, created = StackComponent.objects.get_or_create(
            tenant=tenant,
            type=component_type,
            name=DEFAULT_NAME,
            defaults={"user": None, "flavor_name": flavor, "configuration": {}, "labels": {}},
        )
        components_created += created
        if component_type not in present_types:
            stack.components.add(component)
    return int(stack_created), components_created


def seed_tenant_receiver(sender, tenant, **kwargs) -> dict[str, int]:
    """Receiver of tenants.signals.tenant_created and tenant_repair (connected in MLMetaConfig.ready)."""
    return seed_tenant(tenant)
