from django.db.models import Q

from core.api.filters import LOOKUPS, ZenFilter
from mlmeta.api.envelopes.pipelines import with_latest_run
from mlmeta.api.filtersets.base import ProjectScopedFilterSet
from mlmeta.choices import ExecutionStatus, TaggableResourceType
from mlmeta.models import TagResource

STATUSES = tuple(ExecutionStatus.values)
RUNNABLE = Q(build__isnull=False, build__is_local=False)
NOTHING = Q(pk__in=[])


def tagged(resource_type: str):
    """A `tags=` filter: rows carrying a tag whose name matches (`tags=prod`, `tags=contains:pr`)."""

    def condition(operator, value):
        lookup = LOOKUPS[operator]
        links = TagResource.objects.filter(resource_type=resource_type, **{f"tag__name__{lookup}": value})
        return Q(pk__in=links.values("resource_id"))

    return ZenFilter("tags", q=condition)


def present(field: str):
    """A boolean filter that is true when `field` is set."""
    return ZenFilter(field, kind="bool", q=lambda op, value: Q(**{f"{field}__isnull": not value}))


class CodeRepositoryFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")

    sort_fields = ("created", "updated", "id", "name")


class PipelineFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    tags = tagged(TaggableResourceType.PIPELINE)
    latest_run_status = ZenFilter("latest_run_status", choices=STATUSES)
    latest_run_user = ZenFilter("latest_run_user_id", kind="uuid")

    sort_fields = ("created", "updated", "id", "name", "latest_run")

    def sort_paths(self):
        return {"latest_run": "latest_run_id"}

    def filter_queryset(self, queryset):
        """The latest run is joined only for a filter or sort by it; a page's own latest runs come
        with its envelope."""
        wanted = {"latest_run_status", "latest_run_user"} & set(self.data) or "latest_run" in self.data.get(
            "sort_by", ""
        )
        return super().filter_queryset(with_latest_run(queryset, "pipeline") if wanted else queryset)


class PipelineBuildFilterSet(ProjectScopedFilterSet):
    pipeline_id = ZenFilter("pipeline_id", kind="uuid")
    stack_id = ZenFilter("stack_id", kind="uuid")
    is_local = ZenFilter("is_local", kind="bool")
    contains_code = ZenFilter("contains_code", kind="bool")
    zenml_version = ZenFilter("zenml_version")
    python_version = ZenFilter("python_version")
    checksum = ZenFilter("checksum")
    stack_checksum = ZenFilter("stack_checksum")
    duration = ZenFilter("duration", kind="int")

    sort_fields = ("created", "updated", "id", "duration")


class SnapshotFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    named_only = present("name")
    pipeline = ZenFilter("pipeline", kind="ref")
    stack = ZenFilter("stack", kind="ref")
    build_id = ZenFilter("build_id", kind="uuid")
    schedule_id = ZenFilter("schedule_id", kind="uuid")
    source_snapshot_id = ZenFilter("source_snapshot_id", kind="uuid")
    runnable = ZenFilter("build", kind="bool", q=lambda op, value: RUNNABLE if value else ~RUNNABLE)
    deployable = ZenFilter("id", kind="bool", q=lambda op, value: NOTHING if value else ~NOTHING)
    tags = tagged(TaggableResourceType.PIPELINE_SNAPSHOT)

    sort_fields = ("created", "updated", "id", "name")


class ScheduleFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    pipeline_id = ZenFilter("pipeline_id", kind="uuid")
    orchestrator_id = ZenFilter("orchestrator_id", kind="uuid")
    active = ZenFilter("active", kind="bool")
    cron_expression = ZenFilter("cron_expression")
    start_time = ZenFilter("start_time", kind="datetime")
    end_time = ZenFilter("end_time", kind="datetime")
    catchup = ZenFilter("catchup", kind="bool")
    run_once_start_time = ZenFilter("run_once_start_time", kind="datetime")
    is_archived = ZenFilter("is_archived", kind="bool")

    sort_fields = ("created", "updated", "id", "name", "start_time")


class RunTemplateFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    hidden = ZenFilter("hidden", kind="bool")
    pipeline_id = ZenFilter("source_snapshot__pipeline_id", kind="uuid")
    build_id = ZenFilter("source_snapshot__build_id", kind="uuid")
    stack_id = ZenFilter("source_snapshot__stack_id", kind="uuid")
    code_repository_id = ZenFilter("source_snapshot__code_reference__code_repository_id", kind="uuid")
    pipeline = ZenFilter("source_snapshot__pipeline", kind="ref")
    stack = ZenFilter("source_snapshot__stack", kind="ref")
    tags = tagged(TaggableResourceType.RUN_TEMPLATE)

    sort_fields = ("created", "updated", "id", "name")
