from django.contrib import admin

from mlmeta import scheduling
from mlmeta.models import (
    CodeReference,
    CodeRepository,
    Pipeline,
    PipelineBuild,
    PipelineRun,
    PipelineSnapshot,
    Schedule,
)
from tenants.admin_base import (
    RestrictedModelAdmin,
    changelist_link,
    json_field,
    related_filter,
    related_link,
)


@admin.register(Pipeline)
class PipelineAdmin(RestrictedModelAdmin):
    list_display = ("name", "project_link", "run_list", "user", "created")
    list_filter = (related_filter("project"),)
    list_select_related = ("project", "user")
    search_fields = ("name",)
    fields = ("name", "description", "project", "run_list", "snapshot_list", "user", "id", "created", "updated")
    readonly_fields = ("id", "run_list", "snapshot_list", "created", "updated")

    project_link = related_link("project")

    @admin.display(description="runs", ordering="run_counter")
    def run_list(self, obj):
        return changelist_link(PipelineRun, obj.run_counter, pipeline__id__exact=obj.pk)

    @admin.display(description="snapshots")
    def snapshot_list(self, obj):
        return changelist_link(PipelineSnapshot, "Snapshots of this pipeline", pipeline__id__exact=obj.pk)


@admin.register(PipelineSnapshot)
class PipelineSnapshotAdmin(RestrictedModelAdmin):
    list_display = ("__str__", "pipeline_link", "project_link", "step_count", "stack_link", "client_version", "created")
    list_filter = ("is_dynamic", related_filter("project"), related_filter("pipeline"))
    list_select_related = ("pipeline", "project", "stack")
    search_fields = ("name", "pipeline__name", "pipeline_version_hash")
    autocomplete_fields = ("pipeline", "stack", "build", "schedule", "code_reference", "source_snapshot")
    fieldsets = (
        (None, {"fields": ("name", "description", "project", "pipeline", "run_name_template", "is_dynamic")}),
        ("Sources", {"fields": ("stack", "build", "schedule", "code_reference", "source_snapshot", "template_id")}),
        (
            "Configuration",
            {"fields": ("step_count", "pipeline_configuration_json", "step_configurations_json", "pipeline_spec_json")},
        ),
        (
            "Client",
            {
                "classes": ("collapse",),
                "fields": (
                    "client_version",
                    "server_version",
                    "pipeline_version_hash",
                    "code_path",
                    "client_environment_json",
                    "config_template_json",
                    "config_schema_json",
                    "source_code",
                ),
            },
        ),
        (None, {"fields": ("run_list", "user", "id", "created", "updated")}),
    )
    readonly_fields = (
        "id",
        "step_count",
        "run_list",
        "created",
        "updated",
        "pipeline_configuration_json",
        "step_configurations_json",
        "pipeline_spec_json",
        "client_environment_json",
        "config_template_json",
        "config_schema_json",
    )

    pipeline_link = related_link("pipeline")
    project_link = related_link("project")
    stack_link = related_link("stack")
    pipeline_configuration_json = json_field("pipeline_configuration")
    step_configurations_json = json_field("step_configurations")
    pipeline_spec_json = json_field("pipeline_spec")
    client_environment_json = json_field("client_environment")
    config_template_json = json_field("config_template")
    config_schema_json = json_field("config_schema")

    @admin.display(description="runs")
    def run_list(self, obj):
        return changelist_link(PipelineRun, "Runs of this snapshot", snapshot__id__exact=obj.pk)


@admin.register(PipelineBuild)
class PipelineBuildAdmin(RestrictedModelAdmin):
    list_display = (
        "__str__",
        "pipeline_link",
        "stack_link",
        "project_link",
        "is_local",
        "contains_code",
        "zenml_version",
        "python_version",
        "created",
    )
    list_filter = ("is_local", "contains_code", related_filter("project"))
    list_select_related = ("pipeline", "stack", "project")
    search_fields = ("pipeline__name", "checksum")
    search_help_text = "Search by pipeline name or checksum, or paste an exact id."
    autocomplete_fields = ("pipeline", "stack")
    exclude = ("images",)
    readonly_fields = ("id", "images_json", "created", "updated")

    pipeline_link = related_link("pipeline")
    stack_link = related_link("stack")
    project_link = related_link("project")
    images_json = json_field("images")


@admin.register(Schedule)
class ScheduleAdmin(RestrictedModelAdmin):
    list_display = (
        "name",
        "pipeline_link",
        "project_link",
        "active",
        "cron_expression",
        "interval_second",
        "snapshot",
        "run_count",
        "max_runs",
        "concurrency",
        "orchestrator_link",
        "created",
    )
    list_filter = ("active", "is_archived", "catchup", related_filter("project"))
    list_select_related = ("pipeline", "project", "orchestrator")
    search_fields = ("name", "pipeline__name")
    autocomplete_fields = ("pipeline", "orchestrator", "snapshot")
    readonly_fields = ("id", "run_list", "run_count", "last_tick", "created", "updated")

    pipeline_link = related_link("pipeline")
    project_link = related_link("project")
    orchestrator_link = related_link("orchestrator")

    @admin.display(description="runs")
    def run_list(self, obj):
        return changelist_link(PipelineRun, "Runs of this schedule", schedule__id__exact=obj.pk)

    def save_model(self, request, obj, form, change):
        """Keep the schedule's celery-beat PeriodicTask in step (mlmeta.scheduling)."""
        super().save_model(request, obj, form, change)
        scheduling.sync(obj)

    def delete_model(self, request, obj):
        scheduling.remove(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            scheduling.remove(schedule)
        super().delete_queryset(request, queryset)


@admin.register(CodeRepository)
class CodeRepositoryAdmin(RestrictedModelAdmin):
    list_display = ("name", "project_link", "user", "created")
    list_filter = (related_filter("project"),)
    list_select_related = ("project", "user")
    search_fields = ("name",)
    readonly_fields = ("id", "reference_list", "created", "updated")

    project_link = related_link("project")

    @admin.display(description="references")
    def reference_list(self, obj):
        return changelist_link(CodeReference, "Commits of this repository", code_repository__id__exact=obj.pk)


@admin.register(CodeReference)
class CodeReferenceAdmin(RestrictedModelAdmin):
    list_display = ("__str__", "code_repository_link", "commit", "subdirectory", "project_link", "created")
    list_filter = (related_filter("project"),)
    list_select_related = ("code_repository", "project")
    search_fields = ("commit", "code_repository__name")
    search_help_text = "Search by commit or repository name, or paste an exact id."
    autocomplete_fields = ("code_repository",)
    readonly_fields = ("id", "created", "updated")

    code_repository_link = related_link("code_repository", "repository")
    project_link = related_link("project")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("code_repository")  # for str() in autocompletes
