from django.db.models import Q

from core.api.filters import LOOKUPS, ZenFilter
from mlmeta.api.filtersets.base import OwnedFilterSet
from mlmeta.choices import ColorVariant, TaggableResourceType
from mlmeta.models import TagResource


def tagged_with(resource_type: str):
    """`tags=<name>` on a resource list: rows carrying a tag whose name matches."""

    def condition(operator, value) -> Q:
        lookup = "tag__name__in" if operator == "oneof" else f"tag__name__{LOOKUPS[operator]}"
        links = TagResource.objects.filter(Q(**{lookup: value}), resource_type=resource_type)
        return Q(pk__in=links.values("resource_id"))

    return condition


def _on_resource_type(operator, value) -> Q:
    types = value if isinstance(value, list) else [value]
    return Q(pk__in=TagResource.objects.filter(resource_type__in=types).values("tag_id"))


class TagFilterSet(OwnedFilterSet):
    name = ZenFilter("name")
    color = ZenFilter("color", choices=tuple(ColorVariant.values))
    exclusive = ZenFilter("exclusive", kind="bool")
    resource_type = ZenFilter("links__resource_type", choices=tuple(TaggableResourceType.values), q=_on_resource_type)

    sort_fields = ("created", "updated", "id", "name", "color", "exclusive")
