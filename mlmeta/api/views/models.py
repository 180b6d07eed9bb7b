import uuid

from rest_framework.decorators import api_view
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound
from core.api.filters import _to_bool
from core.api.validation import invalid, parse_uuid
from core.api.views import ZenViewSet
from mlmeta import tagging
from mlmeta.api.envelopes.models import (
    ModelEnvelope,
    ModelVersionArtifactEnvelope,
    ModelVersionEnvelope,
    ModelVersionPipelineRunEnvelope,
)
from mlmeta.api.filtersets.models import (
    ModelFilterSet,
    ModelVersionArtifactFilterSet,
    ModelVersionFilterSet,
    ModelVersionPipelineRunFilterSet,
)
from mlmeta.choices import ModelStage
from mlmeta.models import (
    ArtifactVersion,
    Model,
    ModelVersion,
    ModelVersionArtifact,
    ModelVersionPipelineRun,
    RunMetadata,
)
from mlmeta.models.registry import StageTaken
from mlmeta.resources import find_project, find_resource

MODEL_FIELDS = (*ModelEnvelope.card_fields, "save_models_to_registry")


def _update_tags(request, resource_type, obj, data):
    tagging.apply_tags(request.tenant, request.user, resource_type, obj.pk, data.get("add_tags"))
    tagging.remove_tags(request.tenant, resource_type, obj.pk, data.get("remove_tags"))


def _forget_versions(version_ids):
    version_ids = list(version_ids)
    tagging.forget_resources("model_version", version_ids)
    RunMetadata.objects.filter(resource_type="model_version", resource_id__in=version_ids).delete()


def find_model(request, name_or_id: str) -> Model:
    """A model of the request's tenant by id, or by name (within `?project=` when given)."""
    models = Model.objects.restrict(request.user).filter(tenant=request.tenant)
    try:
        found = models.filter(pk=uuid.UUID(str(name_or_id))).first()
    except ValueError:
        project = request.query_params.get("project")
        if project:
            models = models.filter(project__name=project) if not _is_uuid(project) else models.filter(project=project)
        found = models.filter(name=name_or_id).order_by("created").first()
    if found is None:
        raise EntityNotFound(f"Unable to get model with name or ID '{name_or_id}': No model found")
    return found


def _is_uuid(raw) -> bool:
    try:
        uuid.UUID(str(raw))
    except ValueError:
        return False
    return True


class ModelViewSet(ZenViewSet):
    model = Model
    envelope_class = ModelEnvelope
    filterset_class = ModelFilterSet
    create_schema = "ModelRequest"
    update_schema = "ModelUpdate"
    label = "model"

    def get_object(self, queryset=None):
        """Models may be addressed by id or by name."""
        raw = str(self.kwargs[self.lookup_url_kwarg])
        if not _is_uuid(raw):
            self.kwargs[self.lookup_url_kwarg] = str(find_model(self.request, raw).pk)
        return super().get_object(queryset)

    def perform_create(self, data):
        project = find_project(self.request.tenant, self.request.user, data["project"])
        values = {field: data[field] for field in MODEL_FIELDS if data.get(field) is not None}
        model = Model.objects.create(
            tenant=self.request.tenant, project=project, user=self.request.user, name=data["name"], **values
        )
        tagging.apply_tags(self.request.tenant, self.request.user, "model", model.pk, data.get("tags"))
        return model

    def perform_update(self, model, data):
        for field in ("name", *MODEL_FIELDS):
            if data.get(field) is not None:
                setattr(model, field, data[field])
        model.save()
        _update_tags(self.request, "model", model, data)
        return model

    def perform_destroy(self, model):
        _forget_versions(model.versions.values_list("pk", flat=True))
        tagging.forget_resources("model", [model.pk])
        model.delete()


class ModelVersionViewSet(ZenViewSet):
    model = ModelVersion
    envelope_class = ModelVersionEnvelope
    filterset_class = ModelVersionFilterSet
    create_schema = "ModelVersionRequest"
    update_schema = "ModelVersionUpdate"
    label = "model version"
    unique_message = "Unable to create model version `{name}`: a version with this name already exists in the model."

    def get_queryset(self):
        queryset = super().get_queryset()
        name_or_id = self.kwargs.get("model_name_or_id") or self.request.query_params.get("model_name_or_id")
        if self.action == "list" and name_or_id:
            queryset = queryset.filter(model=find_model(self.request, name_or_id))
        return queryset

    def perform_create(self, data):
        model_id = parse_uuid(data["model"], "model")
        model = Model.objects.restrict(self.request.user).filter(tenant=self.request.tenant, pk=model_id).first()
        if model is None:
            raise EntityNotFound(f"Unable to get model with ID '{model_id}': No model with this ID found")
        if data.get("name") and model.versions.filter(name=data["name"]).exists():
            raise EntityExistsError(self.unique_message.format(name=data["name"]))
        version = ModelVersion(
            tenant=self.request.tenant,
            project=model.project,
            user=self.request.user,
            model=model,
            name=data.get("name") or "",
            description=data.get("description"),
        )
        if data.get("stage"):
            self.set_stage(version, self.stage(data["stage"]), force=False)
        version.save()
        tagging.apply_tags(self.request.tenant, self.request.user, "model_version", version.pk, data.get("tags"))
        return version

    def perform_update(self, version, data):
        for field in ("name", "description"):
            if data.get(field) is not None:
                setattr(version, field, data[field])
        version.save()
        if data.get("stage") is not None:
            self.set_stage(version, self.stage(data["stage"]), force=bool(data.get("force")))
        _update_tags(self.request, "model_version", version, data)
        return version

    def perform_destroy(self, version):
        _forget_versions([version.pk])
        version.delete()

    @staticmethod
    def stage(raw) -> str:
        if raw not in ModelStage.values:
            raise invalid("stage", f"Input should be one of {', '.join(ModelStage.values)}", raw)
        return raw

    @staticmethod
    def set_stage(version, stage, force):
        try:
            version.set_stage(stage, force=force)
        except StageTaken as exc:
            raise EntityExistsError(str(exc)) from None


class LinkViewSet(ZenViewSet):
    """Links of model versions (to artifact versions or runs): list and idempotent create."""

    target_field = ""

    def get_queryset(self):
        return self.model.objects.restrict(self.request.user, self.action_name()).filter(tenant=self.request.tenant)

    def create(self, request, *args, **kwargs):
        data = self.validated(request.data, self.create_schema)
        version_id = parse_uuid(data["model_version"], "model_version")
        version = find_resource(request.tenant, request.user, "model_version", version_id, "update", request)
        target_id = parse_uuid(data[self.target_field], self.target_field)
        target = find_resource(request.tenant, request.user, self.target_field, target_id)
        link, _ = self.model.objects.get_or_create(model_version=version, **{self.target_field: target})
        return Response(self.render(link))


class ModelVersionArtifactViewSet(LinkViewSet):
    model = ModelVersionArtifact
    envelope_class = ModelVersionArtifactEnvelope
    filterset_class = ModelVersionArtifactFilterSet
    create_schema = "ModelVersionArtifactRequest"
    label = "model version artifact link"
    target_field = "artifact_version"


class ModelVersionPipelineRunViewSet(LinkViewSet):
    model = ModelVersionPipelineRun
    envelope_class = ModelVersionPipelineRunEnvelope
    filterset_class = ModelVersionPipelineRunFilterSet
    create_schema = "ModelVersionPipelineRunRequest"
    label = "model version pipeline run link"
    target_field = "pipeline_run"


def _version(request, model_version_id) -> ModelVersion:
    """The model version whose links are being removed: changing them is updating the version."""
    pk = parse_uuid(model_version_id, "model_version_id", "path")
    return find_resource(request.tenant, request.user, "model_version", pk, "update", request)


@api_view(["DELETE"])
def model_version_artifacts(request, model_version_id):
    """Unlink every artifact of a version; with `only_links=false` delete the artifact versions too."""
    version = _version(request, model_version_id)
    only_links = _bool_param(request, "only_links", True)
    links = ModelVersionArtifact.objects.filter(model_version=version)
    if not only_links:
        ids = links.values("artifact_version_id")
        ArtifactVersion.objects.restrict(request.user, "delete").filter(tenant=request.tenant, pk__in=ids).delete()
    links.delete()
    return Response(None)


@api_view(["DELETE"])
def model_version_artifact(request, model_version_id, link_name_or_id):
    version = _version(request, model_version_id)
    links = ModelVersionArtifact.objects.filter(model_version=version)
    _delete_link(links, link_name_or_id, "artifact_version__artifact__name", "artifact")
    return Response(None)


@api_view(["DELETE"])
def model_version_run(request, model_version_id, link_name_or_id):
    version = _version(request, model_version_id)
    links = ModelVersionPipelineRun.objects.filter(model_version=version)
    _delete_link(links, link_name_or_id, "pipeline_run__name", "pipeline run")
    return Response(None)


def _delete_link(links, name_or_id, name_path, label):
    matching = links.filter(pk=name_or_id) if _is_uuid(name_or_id) else links.filter(**{name_path: name_or_id})
    deleted, _ = matching.delete()
    if not deleted:
        raise EntityNotFound(f"Unable to delete the link to {label} '{name_or_id}': No such link found")


def _bool_param(request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return _to_bool(raw)
    except ValueError:
        raise invalid(name, "Input should be a valid boolean", raw, "query") from None
