import uuid

from django.db.models import Q

from core.api.filters import ZenFilter
from mlmeta.api.filtersets.base import ProjectScopedFilterSet
from mlmeta.api.filtersets.metadata import MetadataFilter
from mlmeta.api.filtersets.pipelines import tagged
from mlmeta.choices import ArtifactSaveType, ArtifactType, MetadataResourceType, TaggableResourceType
from mlmeta.models import StepRunInput, StepRunOutput

UNUSED = ~Q(pk__in=StepRunInput.objects.values("artifact_version_id")) & ~Q(
    pk__in=StepRunOutput.objects.values("artifact_version_id")
)


def _in_run(operator, value) -> Q:
    """Versions a run produced or consumed, the run given by id or name."""
    values = value if isinstance(value, list) else [value]
    runs = Q(pk__in=[])
    for item in values:
        field = "pipeline_run_id" if _is_uuid(item) else "pipeline_run__name"
        runs |= Q(**{f"step_run__{field}": item})
    produced = StepRunOutput.objects.filter(runs).values("artifact_version_id")
    consumed = StepRunInput.objects.filter(runs).values("artifact_version_id")
    return Q(pk__in=produced) | Q(pk__in=consumed)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class ArtifactFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    has_custom_name = ZenFilter("has_custom_name", kind="bool")
    tags = tagged(TaggableResourceType.ARTIFACT)

    sort_fields = ("created", "updated", "id", "name")


class ArtifactVersionFilterSet(ProjectScopedFilterSet):
    artifact = ZenFilter("artifact", kind="ref")
    artifact_id = ZenFilter("artifact_id", kind="uuid")
    name = ZenFilter("artifact__name")
    version = ZenFilter("version")
    version_number = ZenFilter("version_number", kind="int")
    uri = ZenFilter("uri")
    materializer = ZenFilter("materializer__attribute")
    type = ZenFilter("type", choices=tuple(ArtifactType.values))
    save_type = ZenFilter("save_type", choices=tuple(ArtifactSaveType.values))
    data_type = ZenFilter("data_type__attribute")
    artifact_store_id = ZenFilter("artifact_store_id", kind="uuid")
    model_version_id = ZenFilter("model_version_links__model_version_id", kind="uuid")
    model = ZenFilter("model_version_links__model_version__model", kind="ref")
    has_custom_name = ZenFilter("artifact__has_custom_name", kind="bool")
    only_unused = ZenFilter("id", kind="bool", q=lambda op, value: UNUSED if value else Q())
    pipeline_run = ZenFilter("id", q=_in_run)
    tags = tagged(TaggableResourceType.ARTIFACT_VERSION)
    run_metadata = MetadataFilter(MetadataResourceType.ARTIFACT_VERSION)

    sort_fields = ("created", "updated", "id", "version", "version_number", "name")

    def sort_paths(self):
        return {"name": "artifact__name"}

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        to_many = ("model_version_id", "model")
        return queryset.distinct() if any(self.data.getlist(p) for p in to_many) else queryset
