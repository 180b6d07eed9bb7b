"""Pieces nested in many envelopes: tags and run metadata, loaded for a whole page at once."""

from collections import defaultdict

from django.db.models import Count

from core.api.envelope import Envelope, OwnedEnvelope
from core.rawsql import keyed_queries
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


TAG_LINKS = keyed_queries(
    lambda resource_type, ids: (
        TagResource.objects.filter(resource_type=resource_type, resource_id__in=ids)
        .select_related("tag")
        .order_by("tag__name")
    )
)
RUN_METADATA = keyed_queries(
    lambda resource_type, ids: (
        RunMetadata.objects.filter(resource_type=resource_type, resource_id__in=ids)
        .order_by("created")
        .values_list("resource_id", "key", "value")
    )
)


def tags_by_resource(resource_type: str, ids) -> dict:
    """{resource id: [Tag, ...]} for the given resources, in one query. Nested tags are not hydrated,
    so their users are not loaded."""
    return tags_of(send_tags(resource_type, ids))


def send_tags(resource_type: str, ids):
    """`tags_by_resource` in two steps (`core.rawsql.together()`): send the query, `tags_of` it later."""
    return TAG_LINKS(str(resource_type)).send(ids)


def tags_of(sent) -> dict:
    found = defaultdict(list)
    for link in sent.objects():
        found[link.resource_id].append(link.tag)
    return found


def run_metadata_by_resource(resource_type: str, ids) -> dict:
    """{resource id: {key: value}} for the given resources, in one query; later values win."""
    found = defaultdict(dict)
    for resource_id, key, value in RUN_METADATA(str(resource_type)).rows(ids):
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
