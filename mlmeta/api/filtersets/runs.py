from django.db.models import Q
from django.utils import timezone

from core.api.filters import ZenFilter
from mlmeta.api.filtersets.base import ProjectScopedFilterSet
from mlmeta.api.filtersets.metadata import MetadataFilter, MetadataSortMixin
from mlmeta.api.filtersets.pipelines import STATUSES, present, tagged
from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType

FINISHED = Q(status__in=ExecutionStatus.finished())


def _expired(operator, value) -> Q:
    expired = Q(cache_expires_at__isnull=False, cache_expires_at__lt=timezone.now())
    return expired if value else ~expired


class RunFilterSet(MetadataSortMixin, ProjectScopedFilterSet):
    name = ZenFilter("name")
    index = ZenFilter("index", kind="int")
    status = ZenFilter("status", choices=STATUSES)
    in_progress = ZenFilter("status", kind="bool", q=lambda op, value: ~FINISHED if value else FINISHED)
    orchestrator_run_id = ZenFilter("orchestrator_run_id")
    pipeline_id = ZenFilter("pipeline_id", kind="uuid")
    pipeline = ZenFilter("pipeline", kind="ref")
    pipeline_name = ZenFilter("pipeline__name")
    stack_id = ZenFilter("stack_id", kind="uuid")
    stack = ZenFilter("stack", kind="ref")
    schedule_id = ZenFilter("schedule_id", kind="uuid")
    build_id = ZenFilter("build_id", kind="uuid")
    snapshot_id = ZenFilter("snapshot_id", kind="uuid")
    source_snapshot_id = ZenFilter("source_snapshot_id", kind="uuid")
    template_id = ZenFilter("snapshot__template_id", kind="uuid")
    code_repository_id = ZenFilter("snapshot__code_reference__code_repository_id", kind="uuid")
    code_repository = ZenFilter("snapshot__code_reference__code_repository", kind="ref")
    model_version_id = ZenFilter("model_version_id", kind="uuid")
    linked_to_model_version_id = ZenFilter("model_version_links__model_version_id", kind="uuid")
    model = ZenFilter("model_version__model", kind="ref")
    stack_component = ZenFilter("stack__components", kind="ref")
    start_time = ZenFilter("start_time", kind="datetime")
    end_time = ZenFilter("end_time", kind="datetime")
    parent_run_id = ZenFilter("parent_run_id", kind="uuid")
    root_runs_only = ZenFilter(
        "parent_run", kind="bool", q=lambda op, value: Q(parent_run__isnull=True) if value else Q()
    )
    templatable = ZenFilter(
        "build",
        kind="bool",
        q=lambda op, value: Q(snapshot__build__is_local=False) if value else ~Q(snapshot__build__is_local=False),
    )
    tags = tagged(TaggableResourceType.PIPELINE_RUN)
    run_metadata = MetadataFilter(MetadataResourceType.PIPELINE_RUN)

    metadata_resource_type = MetadataResourceType.PIPELINE_RUN

    sort_fields = (
        "created",
        "updated",
        "id",
        "name",
        "index",
        "status",
        "start_time",
        "end_time",
        "pipeline",
        "stack",
        "user",
    )

    def sort_paths(self):
        return {"pipeline": "pipeline__name", "stack": "stack__name", "user": "user__username"}

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        to_many = ("linked_to_model_version_id", "stack_component")
        return queryset.distinct() if any(self.data.getlist(p) for p in to_many) else queryset


class StepFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    code_hash = ZenFilter("code_hash")
    cache_key = ZenFilter("cache_key")
    status = ZenFilter("status", choices=STATUSES)
    start_time = ZenFilter("start_time", kind="datetime")
    end_time = ZenFilter("end_time", kind="datetime")
    pipeline_run_id = ZenFilter("pipeline_run_id", kind="uuid")
    snapshot_id = ZenFilter("pipeline_run__snapshot_id", kind="uuid")
    original_step_run_id = ZenFilter("original_step_run_id", kind="uuid")
    model_version_id = ZenFilter("model_version_id", kind="uuid")
    model = ZenFilter("model_version__model", kind="ref")
    version = ZenFilter("version", kind="int")
    exclude_retried = ZenFilter(
        "status", kind="bool", q=lambda op, value: ~Q(status=ExecutionStatus.RETRIED) if value else Q()
    )
    cache_expires_at = ZenFilter("cache_expires_at", kind="datetime")
    cache_expired = ZenFilter("cache_expires_at", kind="bool", q=_expired)
    has_cache_key = present("cache_key")
    run_metadata = MetadataFilter(MetadataResourceType.STEP_RUN)

    sort_fields = ("created", "updated", "id", "name", "status", "start_time", "end_time", "version")
