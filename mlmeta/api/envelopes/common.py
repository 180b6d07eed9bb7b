"""Pieces nested in many envelopes: tags and run metadata, loaded for a whole page at once."""

from collections import defaultdict

from django.db.models import Count

from core.api.envelope import Envelope, OwnedEnvelope
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
        queryset = queryset.select_related("user")
        return queryset.annotate(tagged_count=Count("links")) if hydrate else queryset


class TagResourceEnvelope(Envelope):
    name_attr = None

    def body(self, link) -> dict:
        return {
            **super().body(link),
            "tag_id": str(link.tag_id),
            "resource_id": str(link.resource_id),
            "resource_type": link.resource_type,
        }


def tags_by_resource(resource_type: str, ids) -> dict:
    """{resource id: [Tag, ...]} for the given resources, in one query. Nested tags are not hydrated,
    so their users are not loaded."""
    found = defaultdict(list)
    links = (
        TagResource.objects.filter(resource_type=resource_type, resource_id__in=list(ids))
        .select_related("tag")
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


class PageLoaderMixin:
    """Loads per-resource extras (tags, run metadata) for a whole page in one query each.

    Envelopes list what they need in `loaders`: {attribute: (loader function, resource type)};
    `loaded(name, obj)` then returns the loaded value of `obj`, loading it alone on single renders.
    """

    loaders: dict = {}

    def render_many(self, objects) -> list[dict]:
        objects = list(objects)
        if self.hydrate or self.resources_always:
            for name in self.loaders:
                self._load(name, [obj.pk for obj in objects])
        return super().render_many(objects)

    def _load(self, name: str, ids) -> None:
        loader, resource_type = self.loaders[name]
        found = loader(resource_type, ids)
        cache = self.__dict__.setdefault(f"_{name}", {})
        cache.update({pk: found.get(pk) for pk in ids})

    def loaded(self, name: str, obj):
        if obj.pk not in self.__dict__.get(f"_{name}", {}):
            self._load(name, [obj.pk])
        return self.__dict__[f"_{name}"][obj.pk]

    def rendered_tags(self, obj) -> list[dict]:
        return TagEnvelope(self.request).render_many(self.loaded("tags", obj) or [])
