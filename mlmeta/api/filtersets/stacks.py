from django.db.models import Q

from core.api.filters import ZenFilter
from mlmeta.api.filtersets.base import OwnedFilterSet
from mlmeta.choices import StackComponentType

COMPONENT_TYPES = tuple(StackComponentType.values)


class FlavorFilterSet(OwnedFilterSet):
    name = ZenFilter("name")
    display_name = ZenFilter("display_name")
    type = ZenFilter("type", choices=COMPONENT_TYPES)
    integration = ZenFilter("integration")

    sort_fields = ("created", "updated", "id", "name", "type", "integration")


class ComponentFilterSet(OwnedFilterSet):
    name = ZenFilter("name")
    type = ZenFilter("type", choices=COMPONENT_TYPES)
    scope_type = ZenFilter("type", choices=COMPONENT_TYPES)
    flavor = ZenFilter("flavor_name")
    connector_id = ZenFilter("connector_id", kind="uuid")
    stack_id = ZenFilter(
        "stacks__id", kind="uuid", q=lambda op, value: Q(stacks__id__in=value if op == "oneof" else [value])
    )

    sort_fields = ("created", "updated", "id", "name", "type", "flavor")

    def sort_paths(self):
        return {"flavor": "flavor_name"}


class StackFilterSet(OwnedFilterSet):
    name = ZenFilter("name")
    description = ZenFilter("description")
    component_id = ZenFilter("components__id", kind="uuid")
    component = ZenFilter("components", kind="ref")

    sort_fields = ("created", "updated", "id", "name")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        # Filters through the components relation may repeat a stack.
        return queryset.distinct() if any(self.data.getlist(p) for p in ("component_id", "component")) else queryset
