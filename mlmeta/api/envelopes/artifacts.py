"""Envelopes of artifacts, their versions and visualizations."""

from django.db.models import CharField, OuterRef, Prefetch, Subquery, UUIDField

from core.api.envelope import Envelope, id_or_none
from core.rawsql import KeyedQuery
from mlmeta.api.envelopes.common import TagEnvelope, run_metadata_by_resource, tags_by_resource
from mlmeta.api.envelopes.nested import PageEnvelope, nested
from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import ArtifactVersion, ArtifactVisualization, StepRunOutput
from tenants.api.envelopes import nested_user


class ArtifactEnvelope(PageEnvelope):
    def load(self, artifacts):
        self.tags = tags_by_resource(TaggableResourceType.ARTIFACT, [a.pk for a in artifacts])

    def metadata(self, artifact) -> dict:
        return {"has_custom_name": artifact.has_custom_name}

    def resources(self, artifact) -> dict:
        return {
            "user": nested_user(artifact.user),
            "tags": [TagEnvelope(self.request).render(tag) for tag in self.tags.get(artifact.pk, [])],
            "latest_version_name": getattr(artifact, "latest_version_name", None),
            "latest_version_id": id_or_none(getattr(artifact, "latest_version_id", None)),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        versions = ArtifactVersion.objects.filter(artifact=OuterRef("pk")).order_by("-created")
        return queryset.select_related("user").annotate(
            latest_version_id=Subquery(versions.values("id")[:1], output_field=UUIDField()),
            latest_version_name=Subquery(versions.values("version")[:1], output_field=CharField()),
        )


class VisualizationEnvelope(Envelope):
    name_attr = None

    def body(self, visualization) -> dict:
        return {**super().body(visualization), "type": visualization.type, "uri": visualization.uri}

    def metadata(self, visualization) -> dict:
        return {"artifact_version_id": str(visualization.artifact_version_id)}


PRODUCERS = KeyedQuery(
    lambda ids: (
        StepRunOutput.objects.filter(artifact_version__in=ids)
        .order_by("created")
        .values_list(
            "artifact_version_id",
            "step_run_id",
            "step_run__status",
            "step_run__pipeline_run_id",
            "step_run__original_step_run_id",
            "step_run__original_step_run__pipeline_run_id",
        )
    )
)


def producers(version_ids) -> dict:
    """{artifact version id: (producing step run id, its pipeline run id)}: the step that made
    it, not the cached steps that reused it."""
    found: dict = {}
    for version_id, step_id, status, run_id, original_id, original_run_id in PRODUCERS.rows(version_ids):
        if status != ExecutionStatus.CACHED:
            found[version_id] = (step_id, run_id)
        elif original_id:
            found.setdefault(version_id, (original_id, original_run_id))
    return found


class ArtifactVersionEnvelope(PageEnvelope):
    name_attr = None
    page_relations = ("user", "artifact")
    related_paths = ("artifact",)

    def load(self, versions):
        ids = [v.pk for v in versions]
        self.tags = tags_by_resource(TaggableResourceType.ARTIFACT_VERSION, ids)
        self.producers = producers(ids)
        self.run_metadata = run_metadata_by_resource(MetadataResourceType.ARTIFACT_VERSION, ids) if self.hydrate else {}

    def body(self, version) -> dict:
        return {
            **super().body(version),
            "artifact": nested(ArtifactEnvelope, version.artifact, self),
            "version": version.version,
            "uri": version.uri,
            "type": version.type,
            "materializer": version.materializer,
            "data_type": version.data_type,
            "save_type": version.save_type,
            "artifact_store_id": id_or_none(version.artifact_store_id),
            "content_hash": version.content_hash,
            "item_count": version.item_count,
        }

    def metadata(self, version) -> dict:
        return {
            "visualizations": [nested(VisualizationEnvelope, v) for v in version.visualizations.all()],
            "run_metadata": self.run_metadata.get(version.pk, {}),
        }

    def resources(self, version) -> dict:
        step_id, run_id = self.producers.get(version.pk, (None, None))
        return {
            "user": nested_user(version.user),
            "tags": [TagEnvelope(self.request).render(tag) for tag in self.tags.get(version.pk, [])],
            "producer_step_run_id": id_or_none(step_id),
            "producer_pipeline_run_id": id_or_none(run_id),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        if hydrate:
            ordered = ArtifactVisualization.objects.order_by("created", "id")
            queryset = queryset.prefetch_related(Prefetch("visualizations", queryset=ordered))
        return queryset
