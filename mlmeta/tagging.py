"""Putting tags on resources and taking them off: the one code path behind `tags` arrays on
create, `add_tags` / `remove_tags` on update, and the tag_resources endpoints.

Callers resolve the tagged resource themselves (through its restricted queryset) before calling
in here; these functions trust `resource_id`.
"""

import random
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from core.api.exceptions import ZenError
from mlmeta.choices import ColorVariant
from mlmeta.models import ArtifactVersion, ModelVersion, PipelineRun, PipelineSnapshot, Tag, TagResource

# An exclusive tag sits on one resource of a type at a time; for versioned types "at a time"
# means within the parent, as in ZenML (one run per pipeline, one version per artifact or model).
EXCLUSIVE_SCOPES = {
    "pipeline_run": (PipelineRun, "pipeline_id"),
    "pipeline_snapshot": (PipelineSnapshot, "pipeline_id"),
    "artifact_version": (ArtifactVersion, "artifact_id"),
    "model_version": (ModelVersion, "model_id"),
}


def _spec(item) -> dict:
    """A `tags` entry is a name or, on runs, a `Tag` object `{name, color, exclusive, cascade}`."""
    return {"name": item} if isinstance(item, str) else dict(item)


def get_or_create_tags(tenant, user, items: Iterable) -> list[Tag]:
    """The tenant's tags of these names, creating the missing ones (random color, like ZenML)."""
    specs = {}
    for item in items or ():
        spec = _spec(item)
        if spec.get("name"):
            specs.setdefault(spec["name"], spec)
    existing = {t.name: t for t in Tag.objects.restrict(user).filter(tenant=tenant, name__in=list(specs))}
    tags = []
    for name, spec in specs.items():
        tag = existing.get(name) or _create_tag(tenant, user, spec)
        if spec.get("exclusive") is not None and bool(spec["exclusive"]) != tag.exclusive:
            state = "exclusive" if tag.exclusive else "non-exclusive"
            raise ZenError(f"The tag `{name}` already exists as a {state} tag.")
        tags.append(tag)
    return tags


def _create_tag(tenant, user, spec) -> Tag:
    color = spec.get("color") or random.choice(ColorVariant.values)
    try:
        with transaction.atomic():
            return Tag.objects.create(
                tenant=tenant, user=user, name=spec["name"], color=color, exclusive=bool(spec.get("exclusive"))
            )
    except IntegrityError:  # created concurrently
        return Tag.objects.get(tenant=tenant, name=spec["name"])


def attach(tag: Tag, resource_type: str, resource_id) -> TagResource:
    """Put `tag` on a resource (idempotent); an exclusive tag leaves the resource's siblings."""
    if tag.exclusive:
        sibling_links(tag, resource_type, resource_id).delete()
    link, _ = TagResource.objects.get_or_create(
        tag=tag, resource_type=resource_type, resource_id=resource_id, defaults={"tenant_id": tag.tenant_id}
    )
    return link


def sibling_links(tag: Tag, resource_type: str, resource_id):
    """Links of `tag` to other resources in the exclusivity scope of this one."""
    links = TagResource.objects.filter(tag=tag, resource_type=resource_type).exclude(resource_id=resource_id)
    if resource_type in EXCLUSIVE_SCOPES:
        model, parent_field = EXCLUSIVE_SCOPES[resource_type]
        parent = model.objects.filter(pk=resource_id).values_list(parent_field, flat=True).first()
        siblings = model.objects.filter(tenant_id=tag.tenant_id, **{parent_field: parent}).values("pk")
        links = links.filter(resource_id__in=siblings)
    return links


def apply_tags(tenant, user, resource_type: str, resource_id, names) -> list[Tag]:
    """Tag a resource with `names` (strings or `Tag` objects), creating missing tags; returns the tags."""
    tags = get_or_create_tags(tenant, user, names)
    for tag in tags:
        attach(tag, resource_type, resource_id)
    return tags


def remove_tags(tenant, resource_type: str, resource_id, names) -> None:
    """Take the tags `names` off a resource; names it does not carry are ignored."""
    names = [_spec(item)["name"] for item in names or ()]
    TagResource.objects.filter(
        tenant=tenant, resource_type=resource_type, resource_id=resource_id, tag__name__in=names
    ).delete()


def forget_resources(resource_type: str, resource_ids) -> None:
    """Drop the tag links of deleted resources (links reference resources by id, not by key)."""
    TagResource.objects.filter(resource_type=resource_type, resource_id__in=list(resource_ids)).delete()
