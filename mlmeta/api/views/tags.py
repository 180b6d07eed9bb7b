import random

from django.db import transaction
from rest_framework.decorators import api_view
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound, ZenError
from core.api.validation import invalid, parse_uuid, validate_body
from core.api.views import ZenViewSet
from mlmeta import tagging
from mlmeta.api import references
from mlmeta.api.envelopes.common import TagEnvelope, TagResourceEnvelope
from mlmeta.api.filtersets.tags import TagFilterSet
from mlmeta.choices import ColorVariant
from mlmeta.models import Tag, TagResource
from mlmeta.resources import find_resource


class TagViewSet(ZenViewSet):
    model = Tag
    envelope_class = TagEnvelope
    filterset_class = TagFilterSet
    create_schema = "TagRequest"
    update_schema = "TagUpdate"
    label = "tag"

    def get_object(self, queryset=None):
        """Tags may be addressed by id or by name."""
        queryset = queryset if queryset is not None else self.get_queryset()
        raw = str(self.kwargs[self.lookup_url_kwarg])
        tag = queryset.filter(name=raw).first()
        return tag if tag is not None else super().get_object(queryset)

    def perform_create(self, data):
        return Tag.objects.create(
            tenant=self.request.tenant,
            user=self.request.user,
            name=data["name"],
            color=data.get("color") or random.choice(ColorVariant.values),
            exclusive=bool(data.get("exclusive")),
        )

    def perform_update(self, tag, data):
        if data.get("exclusive") and not tag.exclusive:
            self.check_can_be_exclusive(tag)
        for field in ("name", "color", "exclusive"):
            if data.get(field) is not None:
                setattr(tag, field, data[field])
        tag.save()
        return tag

    @staticmethod
    def check_can_be_exclusive(tag):
        for link in tag.links.all():
            if tagging.sibling_links(tag, link.resource_type, link.resource_id).exists():
                raise ZenError(
                    f"The tag `{tag.name}` cannot be made exclusive: it is on more than one "
                    f"{link.resource_type.replace('_', ' ')} of the same scope."
                )


def _links(request, items: list) -> list[tuple[Tag, str, object]]:
    """Validated (tag, resource type, resource id) triples of tag_resources bodies, all resolved."""
    location = f"{request.method} {request.path}"
    resolved = []
    for item in items:
        validate_body(item, "TagResourceRequest", location)
        tag = references.resolve(request, Tag, item["tag_id"], "tag_id", "tag", "update")
        resource_id = parse_uuid(item["resource_id"], "resource_id")
        find_resource(request.tenant, request.user, item["resource_type"], resource_id, "update", request)
        resolved.append((tag, item["resource_type"], resource_id))
    return resolved


def _render(links) -> list[dict]:
    return TagResourceEnvelope().render_many(links)


@api_view(["POST", "DELETE"])
def tag_resources(request):
    [(tag, resource_type, resource_id)] = _links(request, [request.data])
    if request.method == "POST":
        return Response(_render([tagging.attach(tag, resource_type, resource_id)])[0])
    deleted, _ = TagResource.objects.filter(tag=tag, resource_type=resource_type, resource_id=resource_id).delete()
    if not deleted:
        raise EntityNotFound(f"Unable to delete tag resource: tag `{tag.name}` is not on {resource_type} {resource_id}")
    return Response(None)


@api_view(["POST", "DELETE"])
def tag_resources_batch(request):
    if not isinstance(request.data, list):
        raise invalid("tag_resources", "Input should be a valid list", request.data)
    with transaction.atomic():
        links = _links(request, request.data)
        if request.method == "DELETE":
            for tag, resource_type, resource_id in links:
                TagResource.objects.filter(tag=tag, resource_type=resource_type, resource_id=resource_id).delete()
            return Response(None)
        created = [tagging.attach(tag, resource_type, resource_id) for tag, resource_type, resource_id in links]
    return Response(_render(created))
