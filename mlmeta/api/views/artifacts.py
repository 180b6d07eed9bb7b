"""Artifacts and artifact versions: batch creation with per-artifact version numbers (wire.md
9.5), visualizations and downloads read from local artifact stores, pruning of unused versions."""

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import FileResponse
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.validation import invalid, parse_uuid, validate_body
from mlmeta import artifact_files, tagging
from mlmeta.api import references
from mlmeta.api.envelopes.artifacts import ArtifactEnvelope, ArtifactVersionEnvelope
from mlmeta.api.filtersets.artifacts import UNUSED, ArtifactFilterSet, ArtifactVersionFilterSet
from mlmeta.api.views.scoped import ProjectScopedViewSet, bool_param
from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import Artifact, ArtifactVersion, ArtifactVisualization, RunMetadata, StackComponent
from tenants import rbac

DOWNLOAD_SALT = "mlmeta.artifact-download"
METADATA_TYPES = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"), (dict, "dict"))


def metadata_type(value) -> str:
    """ZenML's metadata type name of a plain JSON value."""
    return next((name for kind, name in METADATA_TYPES if isinstance(value, kind)), "str")


class ArtifactViewSet(ProjectScopedViewSet):
    model = Artifact
    envelope_class = ArtifactEnvelope
    filterset_class = ArtifactFilterSet
    create_schema = "ArtifactRequest"
    update_schema = "ArtifactUpdate"
    label = "artifact"
    tag_type = TaggableResourceType.ARTIFACT
    unique_message = "Artifact with name `{name}` already exists in this project."

    def perform_create(self, data):
        artifact = Artifact.objects.create(
            project=self.project(data),
            user=self.request.user,
            name=data["name"],
            has_custom_name=bool(data.get("has_custom_name")),
        )
        self.add_tags(artifact, data.get("tags"))
        return artifact

    def perform_update(self, artifact, data):
        for field in ("name", "has_custom_name"):
            if data.get(field) is not None:
                setattr(artifact, field, data[field])
        artifact.save()
        self.update_tags(artifact, data)
        return artifact

    def perform_destroy(self, artifact):
        forget_versions(list(artifact.versions.values_list("pk", flat=True)))
        super().perform_destroy(artifact)


def forget_versions(ids) -> None:
    """Drop what points at artifact versions by id only (tags, metadata) before deleting them."""
    tagging.forget_resources(TaggableResourceType.ARTIFACT_VERSION, ids)
    RunMetadata.objects.filter(resource_type=MetadataResourceType.ARTIFACT_VERSION, resource_id__in=ids).delete()


class ArtifactVersionViewSet(ProjectScopedViewSet):
    model = ArtifactVersion
    envelope_class = ArtifactVersionEnvelope
    filterset_class = ArtifactVersionFilterSet
    create_schema = "ArtifactVersionRequest"
    update_schema = "ArtifactVersionUpdate"
    label = "artifact version"
    tag_type = TaggableResourceType.ARTIFACT_VERSION

    def action_name(self) -> str:
        return {"batch": "create", "prune": "delete"}.get(self.action) or super().action_name()

    # --- create ------------------------------------------------------------------------------
    def perform_create(self, data):
        return self.create_version(data)

    def batch(self, request, *args, **kwargs):
        """`POST /artifact_versions/batch`: all or nothing, versions numbered in request order."""
        if not isinstance(request.data, list):
            raise invalid("body", "Input should be a valid list", request.data)
        for position, item in enumerate(request.data):
            validate_body(item, self.create_schema, f"POST {request.path} item {position}")
        versions = self.save_or_conflict(lambda: [self.created(self.create_version(item)) for item in request.data], {})
        envelope = self.envelope(True)
        queryset = ArtifactVersionEnvelope.prefetch_one(
            ArtifactVersion.objects.filter(pk__in=[v.pk for v in versions]), True
        )
        rendered = {row.pk: row for row in queryset}
        return Response(envelope.render_many([rendered[v.pk] for v in versions]))

    def save_or_conflict(self, save, data):
        try:
            with transaction.atomic():
                return save()
        except IntegrityError:
            raise EntityExistsError("An artifact version with this version already exists for the artifact.") from None

    def create_version(self, data) -> ArtifactVersion:
        project = self.project(data)
        version = ArtifactVersion.objects.create(
            project=project,
            user=self.request.user,
            artifact=self.artifact_for(project, data),
            version="" if data.get("version") is None else str(data["version"]),
            type=data["type"],
            uri=data["uri"],
            materializer=data["materializer"],
            data_type=data["data_type"],
            save_type=data["save_type"],
            artifact_store=self.ref(
                StackComponent, data.get("artifact_store_id"), "artifact_store_id", "stack component"
            ),
            content_hash=data.get("content_hash"),
            item_count=data.get("item_count"),
        )
        for item in data.get("visualizations") or []:
            ArtifactVisualization.objects.create(artifact_version=version, type=item["type"], uri=item["uri"])
        self.save_metadata(project, version, data.get("metadata") or {})
        self.add_tags(version, data.get("tags"))
        return version

    def artifact_for(self, project, data) -> Artifact:
        """The artifact by id, or by name, created on first use (concurrent creators meet on it)."""
        if data.get("artifact_id"):
            return self.ref(Artifact, data["artifact_id"], "artifact_id", "artifact", project)
        name = data.get("artifact_name")
        if not name:
            raise invalid("artifact_name", "Either `artifact_id` or `artifact_name` is required", name)
        artifacts = references.restricted(self.request, Artifact).filter(project=project)
        artifact = artifacts.filter(name=name).first()
        if artifact is None:
            try:
                with transaction.atomic():
                    artifact = Artifact.objects.create(
                        project=project,
                        user=self.request.user,
                        name=name,
                        has_custom_name=bool(data.get("has_custom_name")),
                    )
            except IntegrityError:
                artifact = artifacts.get(name=name)
        return artifact

    def save_metadata(self, project, version, values: dict) -> None:
        RunMetadata.log(
            RunMetadata(
                tenant_id=project.tenant_id,
                project=project,
                user=self.request.user,
                resource_type=MetadataResourceType.ARTIFACT_VERSION,
                resource_id=version.pk,
                key=key,
                value=value,
                type=metadata_type(value),
            )
            for key, value in values.items()
        )

    # --- update / delete ---------------------------------------------------------------------
    def perform_update(self, version, data):
        if data.get("name"):
            version.version = str(data["name"])
            version.save()
        self.update_tags(version, data)
        return version

    def perform_destroy(self, version):
        forget_versions([version.pk])
        version.delete()

    def prune(self, request, *args, **kwargs):
        """`DELETE /artifact_versions`: versions no step consumed or produced, then (unless
        `only_versions`) the artifacts left without versions."""
        unused = self.get_queryset().filter(UNUSED)
        artifacts = references.restricted(request, Artifact, "delete")
        project = None
        if request.query_params.get("project_name_or_id"):
            project = references.resolve_project(request, request.query_params["project_name_or_id"])
            unused, artifacts = unused.filter(project=project), artifacts.filter(project=project)
        if not rbac.can(request.user, "prune", "artifact_version", tenant=request.tenant, project=project):
            self.deny("prune")
        with transaction.atomic():
            ids = list(unused.values_list("pk", flat=True))
            forget_versions(ids)
            ArtifactVersion.objects.filter(pk__in=ids).delete()
            if not bool_param(request, "only_versions", True):
                empty = artifacts.filter(versions__isnull=True)
                tagging.forget_resources(TaggableResourceType.ARTIFACT, list(empty.values_list("pk", flat=True)))
                empty.delete()
        return Response(None)

    # --- files -------------------------------------------------------------------------------
    @action(detail=True, methods=["get"])
    def visualize(self, request, pk=None):
        version = self.get_object(self.get_queryset().select_related("artifact_store"))
        raw = request.query_params.get("index", "0")
        try:
            index = int(raw)
        except ValueError:
            raise invalid("index", "Input should be a valid integer", raw, "query") from None
        visualizations = list(version.visualizations.order_by("created", "id"))
        if not 0 <= index < len(visualizations):
            raise EntityNotFound(f"Artifact version '{version.pk}' has no visualization with index {index}.")
        return Response(artifact_files.load_visualization(visualizations[index], version.artifact_store, request.user))

    @action(detail=True, methods=["get"], url_path="download-token")
    def download_token(self, request, pk=None):
        version = self.get_object()
        return Response(signing.TimestampSigner(salt=DOWNLOAD_SALT).sign(f"{request.tenant.pk}:{version.pk}"))

    @action(detail=True, methods=["get"], permission_classes=[AllowAny], authentication_classes=[])
    def data(self, request, pk=None):
        """The artifact's files as a zip. The signed, short-lived token from `download-token` is the
        credential here (browsers follow the link without the API token), bound to this tenant
        and this artifact version."""
        pk = parse_uuid(pk, "artifact_version_id", "path")
        if request.tenant is None:
            raise EntityNotFound(
                f"Unable to get artifact version with ID '{pk}': No artifact version with this ID found"
            )
        try:
            claim = signing.TimestampSigner(salt=DOWNLOAD_SALT).unsign(
                request.query_params.get("token", ""), max_age=settings.ARTIFACT_DOWNLOAD_TOKEN_SECONDS
            )
        except signing.BadSignature:
            raise IllegalOperationError("Invalid or expired download token.") from None
        if claim != f"{request.tenant.pk}:{pk}":
            raise IllegalOperationError("The download token is not valid for this artifact version.")
        version = ArtifactVersion.objects.select_related("artifact", "artifact_store").get(tenant=request.tenant, pk=pk)
        archive = artifact_files.zip_directory(version.uri, version.artifact_store, f"download token of {pk}")
        filename = f"{version.artifact.name}_{version.version}.zip".replace("/", "_")
        return FileResponse(archive, as_attachment=True, filename=filename, content_type="application/zip")
