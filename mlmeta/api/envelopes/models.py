"""Envelopes of the model registry: models, model versions and their links to artifacts and runs."""

from django.db.models import OuterRef, Subquery

from core.api.envelope import Envelope, OwnedEnvelope, denied, id_or_none
from core.api.timestamps import ts
from mlmeta.api.envelopes.common import PageLoaderMixin, run_metadata_by_resource, tags_by_resource
from mlmeta.models import ModelVersion
from tenants.api.envelopes import nested_user

# ZenML pages the services of a model version by five; MLMeta runs no model servers.
EMPTY_SERVICES = {"index": 1, "max_size": 5, "total_pages": 1, "total": 0, "items": []}


class ModelEnvelope(PageLoaderMixin, OwnedEnvelope):
    loaders = {"tags": (tags_by_resource, "model")}
    card_fields = ("license", "description", "audience", "use_cases", "limitations", "trade_offs", "ethics")

    def metadata(self, model) -> dict:
        card = {field: getattr(model, field) for field in self.card_fields}
        return {**card, "save_models_to_registry": model.save_models_to_registry}

    def resources(self, model) -> dict:
        return {
            "user": nested_user(model.user),
            "tags": self.rendered_tags(model),
            "latest_version_name": getattr(model, "latest_version_name", None),
            "latest_version_id": id_or_none(getattr(model, "latest_version_id", None)),
            "visualizations": [],
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        queryset = queryset.select_related("user")
        if not hydrate:
            return queryset
        latest = ModelVersion.objects.filter(model=OuterRef("pk")).order_by("-number")
        return queryset.annotate(
            latest_version_id=Subquery(latest.values("pk")[:1]),
            latest_version_name=Subquery(latest.values("name")[:1]),
        )


class ModelVersionEnvelope(PageLoaderMixin, OwnedEnvelope):
    related_paths = ("model",)
    loaders = {"tags": (tags_by_resource, "model_version"), "run_metadata": (run_metadata_by_resource, "model_version")}

    def body(self, version) -> dict:
        return {
            **super().body(version),
            "stage": version.stage,
            "number": version.number,
            "model": ModelEnvelope(self.request).render(version.model)
            if self.visible(version.model)
            else denied(version.model),
        }

    def metadata(self, version) -> dict:
        return {"description": version.description, "run_metadata": self.loaded("run_metadata", version) or {}}

    def resources(self, version) -> dict:
        return {
            "user": nested_user(version.user),
            "services": dict(EMPTY_SERVICES),
            "tags": self.rendered_tags(version),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user", "model")


def nested_artifact_version(version) -> dict:
    """An artifact version as nested in link bodies (not hydrated)."""
    artifact = version.artifact
    return {
        "body": {
            "created": ts(version.created),
            "updated": ts(version.updated),
            "user_id": id_or_none(version.user_id),
            "project_id": str(version.project_id),
            "artifact": {
                "body": {
                    "created": ts(artifact.created),
                    "updated": ts(artifact.updated),
                    "user_id": id_or_none(artifact.user_id),
                    "project_id": str(artifact.project_id),
                },
                "metadata": None,
                "resources": None,
                "id": str(artifact.pk),
                "permission_denied": False,
                "name": artifact.name,
            },
            "version": version.version,
            "uri": version.uri,
            "type": version.type,
            "materializer": version.materializer,
            "data_type": version.data_type,
            "save_type": version.save_type,
            "artifact_store_id": id_or_none(version.artifact_store_id),
            "content_hash": version.content_hash,
            "item_count": version.item_count,
        },
        "metadata": None,
        "resources": None,
        "id": str(version.pk),
        "permission_denied": False,
        "name": artifact.name,
    }


def nested_run(run) -> dict:
    """A pipeline run as nested in link bodies (not hydrated)."""
    return {
        "body": {
            "created": ts(run.created),
            "updated": ts(run.updated),
            "user_id": id_or_none(run.user_id),
            "project_id": str(run.project_id),
            "status": run.status,
            "in_progress": run.in_progress,
            "status_reason": run.status_reason,
            "index": run.index,
            "pipeline_id": id_or_none(run.pipeline_id),
            "child_key": run.child_key,
            "root_run_id": id_or_none(run.root_run_id),
        },
        "metadata": None,
        "resources": None,
        "id": str(run.pk),
        "permission_denied": False,
        "name": run.name,
    }


class ModelVersionArtifactEnvelope(Envelope):
    name_attr = None
    related_paths = ("artifact_version",)

    def body(self, link) -> dict:
        return {
            **super().body(link),
            "model_version": str(link.model_version_id),
            "artifact_version": nested_artifact_version(link.artifact_version)
            if self.visible(link.artifact_version)
            else denied(link.artifact_version, None),
        }

    def resources(self, link) -> dict:
        return {}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("artifact_version__artifact")


class ModelVersionPipelineRunEnvelope(Envelope):
    name_attr = None
    related_paths = ("pipeline_run",)

    def body(self, link) -> dict:
        return {
            **super().body(link),
            "model_version": str(link.model_version_id),
            "pipeline_run": nested_run(link.pipeline_run)
            if self.visible(link.pipeline_run)
            else denied(link.pipeline_run),
        }

    def resources(self, link) -> dict:
        return {}

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("pipeline_run")
