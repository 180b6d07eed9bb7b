from django.db import models

from mlmeta.choices import ColorVariant, MetadataResourceType, TaggableResourceType
from tenants.models import ProjectOwnedModel, TenantChildModel, TenantOwnedModel

__all__ = ["RunMetadata", "Tag", "TagResource"]


class RunMetadata(ProjectOwnedModel):
    """One key/value logged against a run, step, artifact version, model version or schedule."""

    rbac_type = "run_metadata"

    resource_type = models.CharField(max_length=32, choices=MetadataResourceType.choices)
    resource_id = models.UUIDField()
    key = models.CharField(max_length=255)
    value = models.JSONField(null=True)
    type = models.CharField(max_length=64)
    stack_component = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    publisher_step = models.ForeignKey(
        "mlmeta.StepRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="published_metadata"
    )

    class Meta(ProjectOwnedModel.Meta):
        verbose_name_plural = "run metadata"
        indexes = [
            models.Index(fields=["resource_type", "resource_id", "key"], name="metadata_resource_key"),
            models.Index(fields=["project", "key"], name="metadata_project_key"),
        ]

    def __str__(self):
        return f"{self.key}={self.value!r}"


class Tag(TenantOwnedModel):
    """A label for runs, artifacts, models, ...; an exclusive tag sits on one resource of a kind at a time."""

    rbac_type = "tag"

    name = models.CharField(max_length=255)
    color = models.CharField(max_length=16, choices=ColorVariant.choices, default=ColorVariant.GREY)
    exclusive = models.BooleanField(default=False)

    class Meta(TenantOwnedModel.Meta):
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="tag_name_unique_in_tenant")]

    def __str__(self):
        return self.name


class TagResource(TenantChildModel):
    """A tag placed on one resource (any taggable type, by id)."""

    parent_field = "tag"

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="links")
    resource_type = models.CharField(max_length=32, choices=TaggableResourceType.choices)
    resource_id = models.UUIDField()

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tag", "resource_type", "resource_id"], name="tag_resource_unique"),
        ]
        indexes = [models.Index(fields=["resource_type", "resource_id"], name="tagresource_resource")]

    def __str__(self):
        return f"{self.tag} on {self.resource_type} {self.resource_id}"
