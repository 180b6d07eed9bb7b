from django.contrib import admin
from django.utils.html import format_html_join

from mlmeta.models import Artifact, ArtifactVersion, ArtifactVisualization, StepRunInput, StepRunOutput
from tenants.admin_base import (
    RestrictedModelAdmin,
    RestrictedModelForm,
    RestrictedTabularInline,
    admin_url,
    changelist_link,
    json_field,
    related_filter,
    related_link,
)

LINKS_SHOWN = 20


def _step_links(links):
    """Links to the step runs of StepRunInput/StepRunOutput rows, as "step (run)" items."""
    return (
        format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            ((admin_url(row.step_run), row.step_run.name, row.step_run.pipeline_run.name) for row in links),
        )
        or "-"
    )


@admin.register(Artifact)
class ArtifactAdmin(RestrictedModelAdmin):
    list_display = ("name", "project_link", "version_list", "has_custom_name", "created")
    list_filter = ("has_custom_name", related_filter("project"))
    list_select_related = ("project",)
    search_fields = ("name",)
    readonly_fields = ("id", "version_list", "created", "updated")

    project_link = related_link("project")

    @admin.display(description="versions", ordering="version_counter")
    def version_list(self, obj):
        return changelist_link(ArtifactVersion, obj.version_counter, artifact__id__exact=obj.pk)


class ArtifactVisualizationInline(RestrictedTabularInline):
    model = ArtifactVisualization
    fields = ("type", "uri")
    show_change_link = False
    verbose_name = "visualization"


class ArtifactVersionForm(RestrictedModelForm):
    filled_on_save = ("version",)


@admin.register(ArtifactVersion)
class ArtifactVersionAdmin(RestrictedModelAdmin):
    form = ArtifactVersionForm
    fixed_fields = ("artifact",)
    list_display = ("__str__", "artifact_link", "version", "type", "save_type", "project_link", "created")
    list_filter = ("type", "save_type", related_filter("project"))
    list_select_related = ("artifact", "project")
    search_fields = ("artifact__name", "version", "uri")
    search_help_text = "Search by artifact name, version or URI, or paste an exact id."
    autocomplete_fields = ("artifact", "artifact_store")
    inlines = (ArtifactVisualizationInline,)
    fieldsets = (
        (None, {"fields": ("project", "artifact", "version", "type", "save_type", "uri", "artifact_store")}),
        ("Lineage", {"fields": ("produced_by", "consumed_by", "model_version_list")}),
        (
            "Data",
            {"fields": ("materializer_json", "data_type_json", "content_hash", "item_count")},
        ),
        (None, {"fields": ("user", "id", "created", "updated")}),
    )
    readonly_fields = (
        "id",
        "created",
        "updated",
        "produced_by",
        "consumed_by",
        "model_version_list",
        "materializer_json",
        "data_type_json",
    )

    artifact_link = related_link("artifact")
    project_link = related_link("project")
    materializer_json = json_field("materializer")
    data_type_json = json_field("data_type")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("artifact")  # str() shows the artifact name

    @admin.display(description="produced by")
    def produced_by(self, obj):
        if obj.pk is None:
            return "-"
        rows = StepRunOutput.objects.filter(artifact_version=obj).select_related("step_run__pipeline_run")
        return _step_links(rows.order_by("created")[:LINKS_SHOWN])

    @admin.display(description="consumed by")
    def consumed_by(self, obj):
        if obj.pk is None:
            return "-"
        rows = StepRunInput.objects.filter(artifact_version=obj).select_related("step_run__pipeline_run")
        return _step_links(rows.order_by("created")[:LINKS_SHOWN])

    @admin.display(description="model versions")
    def model_version_list(self, obj):
        if obj.pk is None:
            return "-"
        versions = obj.model_versions.select_related("model").order_by("created")[:LINKS_SHOWN]
        return format_html_join(", ", '<a href="{}">{}</a>', ((admin_url(mv), mv) for mv in versions)) or "-"
