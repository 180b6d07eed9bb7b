from django.urls import path
from rest_framework.routers import SimpleRouter

from mlmeta.api.views import metadata, models, server, tags
from mlmeta.api.views.artifacts import ArtifactVersionViewSet, ArtifactViewSet
from mlmeta.api.views.logs import LogsViewSet
from mlmeta.api.views.pipelines import (
    CodeRepositoryViewSet,
    PipelineBuildViewSet,
    PipelineViewSet,
    ScheduleViewSet,
    SnapshotViewSet,
)
from mlmeta.api.views.runs import RunViewSet
from mlmeta.api.views.stacks import ComponentViewSet, FlavorViewSet, StackViewSet
from mlmeta.api.views.steps import StepViewSet
from mlmeta.api.views.templates import RunTemplateViewSet
from mlmeta.api.views.triggers import TriggerViewSet

router = SimpleRouter(trailing_slash=False)
router.register("stacks", StackViewSet, basename="stack")
router.register("components", ComponentViewSet, basename="component")
router.register("flavors", FlavorViewSet, basename="flavor")
router.register("tags", tags.TagViewSet, basename="tag")
router.register("models", models.ModelViewSet, basename="model")
router.register("model_versions", models.ModelVersionViewSet, basename="model-version")

urlpatterns = router.urls

LIST_CREATE = {"get": "list", "post": "create"}
urlpatterns += [
    path("run-metadata", metadata.run_metadata, name="api-run-metadata"),
    path("component-types", server.component_types, name="api-component-types"),
    path("statistics", server.server_statistics, name="api-statistics"),
    path("projects/<str:project_name_or_id>/statistics", server.project_statistics, name="api-project-statistics"),
    path("tag_resources", tags.tag_resources, name="api-tag-resources"),
    path("tag_resources/batch", tags.tag_resources_batch, name="api-tag-resources-batch"),
    path(
        "models/<str:model_name_or_id>/model_versions",
        models.ModelVersionViewSet.as_view({"get": "list"}),
        name="api-model-model-versions",
    ),
    path("model_version_artifacts", models.ModelVersionArtifactViewSet.as_view(LIST_CREATE)),
    path("model_version_pipeline_runs", models.ModelVersionPipelineRunViewSet.as_view(LIST_CREATE)),
    path("model_versions/<str:model_version_id>/artifacts", models.model_version_artifacts),
    path("model_versions/<str:model_version_id>/artifacts/<str:link_name_or_id>", models.model_version_artifact),
    path("model_versions/<str:model_version_id>/runs/<str:link_name_or_id>", models.model_version_run),
]

# Pipelines, runs, steps and artifacts: collection paths that are not plain list/create first.
pipeline_router = SimpleRouter(trailing_slash=False)
pipeline_router.register("code_repositories", CodeRepositoryViewSet, basename="code-repository")
pipeline_router.register("pipelines", PipelineViewSet, basename="pipeline")
pipeline_router.register("pipeline_builds", PipelineBuildViewSet, basename="pipeline-build")
pipeline_router.register("pipeline_snapshots", SnapshotViewSet, basename="pipeline-snapshot")
pipeline_router.register("schedules", ScheduleViewSet, basename="schedule")
pipeline_router.register("run_templates", RunTemplateViewSet, basename="run-template")
pipeline_router.register("triggers", TriggerViewSet, basename="trigger")
pipeline_router.register("runs", RunViewSet, basename="run")
pipeline_router.register("steps", StepViewSet, basename="step")
pipeline_router.register("artifacts", ArtifactViewSet, basename="artifact")
pipeline_router.register("artifact_versions", ArtifactVersionViewSet, basename="artifact-version")
urlpatterns += [
    path("logs", LogsViewSet.as_view({"post": "create"})),
    path("logs/<str:pk>", LogsViewSet.as_view({"get": "retrieve", "put": "update"})),
    path("logs/<str:pk>/entries", LogsViewSet.as_view({"get": "entries"})),
    path("runs/<str:run_pk>/steps", StepViewSet.as_view({"get": "list"})),
    path("pipeline_snapshots/<str:snapshot_id>/runs", RunViewSet.as_view({"post": "launch"})),
    path(
        "artifact_versions",
        ArtifactVersionViewSet.as_view({"get": "list", "post": "create", "delete": "prune"}),
    ),
    path("artifact_versions/batch", ArtifactVersionViewSet.as_view({"post": "batch"})),
    path("workspaces/<str:project_name_or_id>/run_templates", RunTemplateViewSet.as_view(LIST_CREATE)),
    *pipeline_router.urls,
]
