"""Pieces nested in many envelopes: tags and run metadata, loaded for a whole page at once."""

from collections import defaultdict

from core.api.envelope import OwnedEnvelope
from mlmeta.models import RunMetadata, TagResource
from tenants.api.envelopes import nested_user


class TagEnvelope(OwnedEnvelope):
    project_scoped = False

    def body(self, tag) -> dict:
        return {**super().body(tag), "color": tag.color, "exclusive": tag.exclusive}

    def metadata(self, tag) -> dict:
        count = getattr(tag, "tagged_count", None)
        return {"tagged_count": count if count is not None else tag.links.count()}

    def resources(self, tag) -> dict:
        return {"user": nested_user(tag.user)}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


def tags_by_resource(resource_type: str, ids) -> dict:
    """{resource id: [Tag, ...]} for the given resources, in one query."""
    found = defaultdict(list)
    links = (
        TagResource.objects.filter(resource_type=resource_type, resource_id__in=list(ids))
        .select_related("tag__user")
        .order_by("tag__name")
    )
    for link in links:
        found[link.resource_id].append(link.tag)
    return found


def run_metadata_by_resource(resource_type: str, ids) -> dict:
    """{resource id: {key: value}} for the given resources, in one query; later values win."""
    found = defaultdict(dict)
    ids = list(ids)
    if not ids:
        return found
    rows = (
        RunMetadata.objects.filter(resource_type=resource_type, resource_id__in=ids)
        .order_by("created")
        .values_list("resource_id", "key", "value")
    )
    for resource_id, key, value in rows:
        found[resource_id][key] = value
    return found

