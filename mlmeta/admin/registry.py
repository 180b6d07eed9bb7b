from django.contrib import admin

from mlmeta.choices import ModelStage
from mlmeta.models import Model, ModelVersion, ModelVersionArtifact, ModelVersionPipelineRun
from tenants.admin_base import (
    RestrictedModelAdmin,
    RestrictedModelForm,
    RestrictedTabularInline,
    badge,
    changelist_link,
    related_filter,
    related_link,
)

# A model has at most one version in each of these stages.
EXCLUSIVE_STAGES = (ModelStage.STAGING, ModelStage.PRODUCTION)


@admin.register(Model)
class MLModelAdmin(RestrictedModelAdmin):
    list_display = ("name", "project_link", "version_list", "user", "created")
    list_filter = ("save_models_to_registry", related_filter("project"))
    list_select_related = ("project", "user")
    search_fields = ("name",)
    readonly_fields = ("id", "version_list", "created", "updated")

    project_link = related_link("project")

    @admin.display(description="versions", ordering="version_counter")
    def version_list(self, obj):
        return changelist_link(ModelVersion, obj.version_counter, model__id__exact=obj.pk)


class ModelVersionForm(RestrictedModelForm):
    filled_on_save = ("name",)

    def clean(self):
        cleaned = super().clean()
        model, stage = cleaned.get("model") or getattr(self.instance, "model", None), cleaned.get("stage")
        if model is not None and stage in EXCLUSIVE_STAGES:
            holder = ModelVersion.objects.filter(model=model, stage=stage).exclude(pk=self.instance.pk).first()
            if holder is not None:
                self.add_error("stage", f"Version {holder.name} of {model} is already in {stage}; archive it first.")
        return cleaned


class ModelVersionArtifactInline(RestrictedTabularInline):
    model = ModelVersionArtifact
    fields = ("artifact_version", "created")
    readonly_fields = ("created",)
    autocomplete_fields = ("artifact_version",)
    show_change_link = False
    verbose_name = "artifact version"


class ModelVersionPipelineRunInline(RestrictedTabularInline):
    model = ModelVersionPipelineRun
    fields = ("pipeline_run", "created")
    readonly_fields = ("created",)
    autocomplete_fields = ("pipeline_run",)
    show_change_link = False
    verbose_name = "pipeline run"


@admin.register(ModelVersion)
class ModelVersionAdmin(RestrictedModelAdmin):
    form = ModelVersionForm
    fixed_fields = ("model",)
    list_display = ("__str__", "model_link", "number", "stage_badge", "project_link", "user", "created")
    list_filter = ("stage", related_filter("project"), related_filter("model"))
    list_select_related = ("model", "project", "user")
    search_fields = ("name", "model__name")
    search_help_text = "Search by version or model name, or paste an exact id."
    autocomplete_fields = ("model",)
    inlines = (ModelVersionArtifactInline, ModelVersionPipelineRunInline)
    fields = ("project", "model", "name", "number", "stage", "description", "user", "id", "created", "updated")
    readonly_fields = ("id", "number", "created", "updated")

    model_link = related_link("model")
    project_link = related_link("project")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("model")  # str() shows the model name

    @admin.display(description="stage", ordering="stage")
    def stage_badge(self, obj):
        return badge(obj.stage, "stage")
