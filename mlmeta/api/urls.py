from django.urls import path
from rest_framework.routers import SimpleRouter

from mlmeta.api.views import metadata, models, tags
from mlmeta.api.views.stacks import ComponentViewSet, FlavorViewSet, StackViewSet

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
