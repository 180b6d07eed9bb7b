from django.db.models import Q

from core.api.filters import ZenFilter, ZenFilterSet
from mlmeta.api.filtersets.base import ProjectScopedFilterSet
from mlmeta.api.filtersets.metadata import MetadataFilter
from mlmeta.api.filtersets.tags import tagged_with
from mlmeta.choices import ArtifactType, MetadataResourceType, ModelStage


def _artifact_type(artifact_type: str):
    return lambda operator, value: Q(artifact_version__type=artifact_type) if value else Q()


class ModelFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    tags = ZenFilter("tags", q=tagged_with("model"))

    sort_fields = ("created", "updated", "id", "name")


class ModelVersionFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    number = ZenFilter("number", kind="int")
    stage = ZenFilter("stage", choices=tuple(ModelStage.values))
    model = ZenFilter("model", kind="ref")
    tags = ZenFilter("tags", q=tagged_with("model_version"))
    run_metadata = MetadataFilter(MetadataResourceType.MODEL_VERSION)

    sort_fields = ("created", "updated", "id", "name", "number", "stage")


class ModelVersionArtifactFilterSet(ZenFilterSet):
    model_version_id = ZenFilter("model_version_id", kind="uuid")
    artifact_version_id = ZenFilter("artifact_version_id", kind="uuid")
    artifact_name = ZenFilter("artifact_version__artifact__name")
    has_custom_name = ZenFilter("artifact_version__artifact__has_custom_name", kind="bool")
    only_data_artifacts = ZenFilter("artifact_version__type", kind="bool", q=_artifact_type(ArtifactType.DATA))
    only_model_artifacts = ZenFilter("artifact_version__type", kind="bool", q=_artifact_type(ArtifactType.MODEL))
    only_deployment_artifacts = ZenFilter("artifact_version__type", kind="bool", q=_artifact_type(ArtifactType.SERVICE))


class ModelVersionPipelineRunFilterSet(ZenFilterSet):
    model_version_id = ZenFilter("model_version_id", kind="uuid")
    pipeline_run_id = ZenFilter("pipeline_run_id", kind="uuid")
    pipeline_run_name = ZenFilter("pipeline_run__name")
