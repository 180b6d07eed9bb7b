from django.contrib import admin
from django.utils.html import format_html, format_html_join

from mlmeta.choices import ExecutionStatus
from mlmeta.models import Logs, PipelineRun, StepRun, StepRunInput, StepRunOutput
from tenants.admin_base import (
    RestrictedModelAdmin,
    RestrictedTabularInline,
    admin_url,
    badge,
    changelist_link,
    duration,
    json_field,
    related_filter,
    related_link,
)

STEPS_SHOWN = 100


@admin.register(PipelineRun)
class PipelineRunAdmin(RestrictedModelAdmin):
    list_display = (
        "name",
        "pipeline_link",
        "index",
        "status_badge",
        "project_link",
        "user",
        "created",
        "run_duration",
    )
    list_filter = ("status", related_filter("project"), related_filter("pipeline"))
    list_select_related = ("pipeline", "project", "user")
    fixed_fields = ("pipeline",)
    search_fields = ("name", "orchestrator_run_id")
    search_help_text = "Search by run name or orchestrator run id, or paste an exact id."
    autocomplete_fields = (
        "pipeline",
        "snapshot",
        "source_snapshot",
        "stack",
        "build",
        "schedule",
        "model_version",
        "original_run",
        "parent_run",
        "root_run",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "project",
                    "pipeline",
                    "index",
                    "status",
                    "status_reason",
                    "start_time",
                    "end_time",
                    "run_duration",
                    "user",
                    "id",
                    "created",
                    "updated",
                )
            },
        ),
        ("Steps", {"fields": ("step_count", "step_list")}),
        (
            "Sources",
            {
                "classes": ("collapse",),
                "fields": (
                    "snapshot",
                    "source_snapshot",
                    "stack",
                    "build",
                    "schedule",
                    "model_version",
                    "orchestrator_run_id",
                    "enable_heartbeat",
                ),
            },
        ),
        (
            "Retries and nesting",
            {"classes": ("collapse",), "fields": ("original_run", "parent_run", "root_run", "child_key")},
        ),
        (
            "Environment and errors",
            {
                "classes": ("collapse",),
                "fields": (
                    "exception_info_json",
                    "orchestrator_environment_json",
                    "client_environment_json",
                    "trigger_info_json",
                    "trigger_execution_info_json",
                ),
            },
        ),
    )
    readonly_fields = (
        "id",
        "index",
        "run_duration",
        "step_count",
        "step_list",
        "created",
        "updated",
        "exception_info_json",
        "orchestrator_environment_json",
        "client_environment_json",
        "trigger_info_json",
        "trigger_execution_info_json",
    )

    actions = ("stop_runs", "refresh_statuses")

    pipeline_link = related_link("pipeline")
    project_link = related_link("project")
    exception_info_json = json_field("exception_info")
    orchestrator_environment_json = json_field("orchestrator_environment")
    client_environment_json = json_field("client_environment")
    trigger_info_json = json_field("trigger_info")
    trigger_execution_info_json = json_field("trigger_execution_info")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # A run's status follows its steps; the actions below stop or recompute it.
        return fields if obj is None else [*fields, "status"]

    @admin.action(description="Stop the selected runs now", permissions=["change"])
    def stop_runs(self, request, queryset):
        runs = queryset.exclude(status__in=ExecutionStatus.finished())
        for run in runs:
            run.request_stop(graceful=False)
        self.message_user(request, f"Stopped {len(runs)} run(s).")

    @admin.action(description="Recompute the status of the selected runs from their steps", permissions=["change"])
    def refresh_statuses(self, request, queryset):
        for run in queryset:
            run.refresh_status()
        self.message_user(request, "Statuses recomputed.")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    @admin.display(description="duration")
    def run_duration(self, obj):
        return duration(obj.start_time, obj.end_time)

    @admin.display(description="step count")
    def step_count(self, obj):
        if obj.pk is None:
            return "-"
        return changelist_link(StepRun, obj.steps.count(), pipeline_run__id__exact=obj.pk)

    @admin.display(description="steps")
    def step_list(self, obj):
        if obj.pk is None:
            return "-"
        rows = obj.steps.order_by("created").only("name", "status", "start_time", "end_time")[:STEPS_SHOWN]
        items = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
            (
                (admin_url(step), step.name, badge(step.status), duration(step.start_time, step.end_time))
                for step in rows
            ),
        )
        return format_html('<table class="mlmeta-steps"><tbody>{}</tbody></table>', items) if items else "-"


class StepRunInputInline(RestrictedTabularInline):
    model = StepRunInput
    fields = ("name", "type", "artifact_version")
    autocomplete_fields = ("artifact_version",)
    show_change_link = False
    verbose_name = "input"
    verbose_name_plural = "inputs"


class StepRunOutputInline(RestrictedTabularInline):
    model = StepRunOutput
    fields = ("name", "artifact_version")
    autocomplete_fields = ("artifact_version",)
    show_change_link = False
    verbose_name = "output"
    verbose_name_plural = "outputs"


@admin.register(StepRun)
class StepRunAdmin(RestrictedModelAdmin):
    list_display = (
        "name",
        "pipeline_run_link",
        "status_badge",
        "type",
        "project_link",
        "start_time",
        "step_duration",
        "original_step_run_link",
    )
    list_filter = ("status", "type", related_filter("project"))
    list_select_related = ("pipeline_run", "project", "original_step_run")
    search_fields = ("name", "pipeline_run__name", "cache_key")
    search_help_text = "Search by step name, run name or cache key, or paste an exact id."
    autocomplete_fields = ("pipeline_run", "original_step_run", "parents", "model_version")
    inlines = (StepRunInputInline, StepRunOutputInline)
    fixed_fields = ("pipeline_run",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "project",
                    "pipeline_run",
                    "type",
                    "status",
                    "version",
                    "is_retriable",
                    "start_time",
                    "end_time",
                    "step_duration",
                    "parents",
                    "model_version",
                    "user",
                    "id",
                    "created",
                    "updated",
                )
            },
        ),
        (
            "Cache",
            {"classes": ("collapse",), "fields": ("cache_key", "cache_expires_at", "code_hash", "original_step_run")},
        ),
        ("Heartbeat", {"classes": ("collapse",), "fields": ("latest_heartbeat", "heartbeat_threshold")}),
        (
            "Code, configuration and errors",
            {
                "classes": ("collapse",),
                "fields": (
                    "docstring",
                    "source_code_display",
                    "exception_info_json",
                    "dynamic_config_json",
                    "substitutions_json",
                ),
            },
        ),
    )
    readonly_fields = (
        "id",
        "step_duration",
        "created",
        "updated",
        "source_code_display",
        "exception_info_json",
        "dynamic_config_json",
        "substitutions_json",
    )

    pipeline_run_link = related_link("pipeline_run", "run")
    project_link = related_link("project")
    original_step_run_link = related_link("original_step_run", "cached from")
    exception_info_json = json_field("exception_info")
    dynamic_config_json = json_field("dynamic_config")
    substitutions_json = json_field("substitutions")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or "status" in form.changed_data:
            obj.pipeline_run.refresh_status()  # the run's status follows its steps

    @admin.display(description="duration")
    def step_duration(self, obj):
        return duration(obj.start_time, obj.end_time)

    @admin.display(description="source code")
    def source_code_display(self, obj):
        return format_html('<pre class="code">{}</pre>', obj.source_code) if obj.source_code else "-"


@admin.register(Logs)
class LogsAdmin(RestrictedModelAdmin):
    list_display = ("__str__", "source", "uri", "pipeline_run_link", "step_run_link", "project_link", "created")
    list_filter = ("source", related_filter("project"))
    list_select_related = ("pipeline_run", "step_run", "project")
    search_fields = ("uri", "source")
    search_help_text = "Search by URI or source, or paste an exact id."
    autocomplete_fields = ("pipeline_run", "step_run", "artifact_store", "log_store")
    readonly_fields = ("id", "created", "updated")

    pipeline_run_link = related_link("pipeline_run", "run")
    step_run_link = related_link("step_run", "step")
    project_link = related_link("project")
