from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Model,
    ModelVersion,
    Pipeline,
    PipelineRun,
    PipelineSnapshot,
    RunMetadata,
    Schedule,
    StepRun,
    Tag,
    TagResource,
)
from tenants.admin_base import (
    RestrictedModelAdmin,
    RestrictedModelForm,
    RestrictedTabularInline,
    badge,
    related_filter,
    related_link,
)

METADATA_RESOURCES = {
    MetadataResourceType.PIPELINE_RUN: PipelineRun,
    MetadataResourceType.STEP_RUN: StepRun,
    MetadataResourceType.ARTIFACT_VERSION: ArtifactVersion,
    MetadataResourceType.MODEL_VERSION: ModelVersion,
    MetadataResourceType.SCHEDULE: Schedule,
}
TAGGABLE_RESOURCES = {
    TaggableResourceType.ARTIFACT: Artifact,
    TaggableResourceType.ARTIFACT_VERSION: ArtifactVersion,
    TaggableResourceType.MODEL: Model,
    TaggableResourceType.MODEL_VERSION: ModelVersion,
    TaggableResourceType.PIPELINE: Pipeline,
    TaggableResourceType.PIPELINE_RUN: PipelineRun,
    TaggableResourceType.PIPELINE_SNAPSHOT: PipelineSnapshot,
}


def resource_link(models, resource_type, resource_id):
    """A link to the resource a metadata or tag row points at, built without a query."""
    model = models.get(resource_type)
    if model is None or resource_id is None:
        return resource_id or "-"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[resource_id])
    return format_html('<a href="{}">{} {}</a>', url, model._meta.verbose_name, str(resource_id)[:8])


class ResourceReferenceForm(RestrictedModelForm):
    """The (resource_type, resource_id) pair must name a row of the same tenant (and project)."""

    resource_models = {}

    def clean(self):
        cleaned = super().clean()
        model = self.resource_models.get(cleaned.get("resource_type"))
        resource_id = cleaned.get("resource_id")
        tenant_id, project_id = self.scope
        if model is None or resource_id is None or tenant_id is None:
            return cleaned
        rows = model.objects.filter(pk=resource_id, tenant_id=tenant_id)
        if project_id:
            rows = rows.filter(project_id=project_id)
        if not rows.exists():
            self.add_error("resource_id", f"No {model._meta.verbose_name} with this id here.")
        return cleaned


class RunMetadataForm(ResourceReferenceForm):
    resource_models = METADATA_RESOURCES


@admin.register(RunMetadata)
class RunMetadataAdmin(RestrictedModelAdmin):
    form = RunMetadataForm
    list_display = ("key", "short_value", "type", "resource", "project_link", "publisher_step_link", "created")
    list_filter = ("resource_type", "type", related_filter("project"))
    list_select_related = ("project", "publisher_step")
    search_fields = ("key",)
    search_help_text = "Search by key, or paste an exact id (of the entry or of its resource)."
    uuid_search_fields = ("pk", "resource_id")
    autocomplete_fields = ("publisher_step", "stack_component")
    readonly_fields = ("id", "resource", "created", "updated")

    project_link = related_link("project")
    publisher_step_link = related_link("publisher_step", "published by")

    @admin.display(description="value")
    def short_value(self, obj):
        text = repr(obj.value)
        return text if len(text) <= 80 else f"{text[:77]}..."

    @admin.display(description="resource")
    def resource(self, obj):
        return resource_link(METADATA_RESOURCES, obj.resource_type, obj.resource_id)


class TagResourceForm(ResourceReferenceForm):
    resource_models = TAGGABLE_RESOURCES

    def clean(self):
        cleaned = super().clean()
        tag, resource_type = cleaned.get("tag"), cleaned.get("resource_type")
        if tag is not None and not tag._state.adding and tag.exclusive and resource_type:
            others = TagResource.objects.filter(tag=tag, resource_type=resource_type).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error("resource_type", f"The exclusive tag {tag} is already on a {resource_type}.")
        return cleaned


class TagResourceInline(RestrictedTabularInline):
    model = TagResource
    form = TagResourceForm
    fields = ("resource_type", "resource_id", "resource", "created")
    readonly_fields = ("resource", "created")
    show_change_link = False
    verbose_name = "tagged resource"

    @admin.display(description="link")
    def resource(self, obj):
        return resource_link(TAGGABLE_RESOURCES, obj.resource_type, obj.resource_id)


@admin.register(Tag)
class TagAdmin(RestrictedModelAdmin):
    list_display = ("name", "color_badge", "exclusive", "tenant_link", "user", "created")
    list_filter = ("color", "exclusive", related_filter("tenant"))
    list_select_related = ("tenant", "user")
    search_fields = ("name",)
    inlines = (TagResourceInline,)
    readonly_fields = ("id", "usage", "created", "updated")

    tenant_link = related_link("tenant")

    @admin.display(description="color", ordering="color")
    def color_badge(self, obj):
        return badge(obj.color, "color")

    @admin.display(description="tagged resources")
    def usage(self, obj):
        if obj.pk is None:
            return "-"
        count = obj.links.count()
        shown = TagResourceInline.formset.max_rows
        return f"{count} (the latest {shown} are listed below)" if count > shown else count
