"""Artifact pages: the list, one artifact with its versions, one version with its lineage,
metadata and visualizations, the sandboxed frame that serves HTML/image visualizations and the
zip download."""

from django.db.models import Count, OuterRef, Subquery
from django.http import FileResponse, HttpResponse
from django.template.response import TemplateResponse
from django.views import View
from django.views.generic import ListView, TemplateView

from core.api.exceptions import ZenError
from core.paginators import CappedCountPaginator
from mlmeta import artifact_files
from mlmeta.choices import ArtifactType, MetadataResourceType, TaggableResourceType
from mlmeta.dashboard import visualizations
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import Artifact, ArtifactVersion, StepRunInput, StepRunOutput, TagResource

CONSUMERS_SHOWN = 50


class ArtifactListView(RegistryPage, ListView):
    """Artifacts by name, newest first, with latest version, version count and tags; filters by
    name (contains), version type and tag."""

    template_name = "mlmeta/artifact_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "artifacts"

    def get_queryset(self):
        versions = self.restrict(ArtifactVersion).filter(artifact=OuterRef("pk"))
        artifacts = self.filtered(self.restrict(Artifact))
        return (
            artifacts.select_related("project")
            .annotate(
                latest_version=Subquery(versions.order_by("-created").values("version")[:1]),
                version_count=Subquery(versions.order_by().values("artifact").annotate(n=Count("pk")).values("n")[:1]),
            )
            .order_by("-created")
        )

    def filtered(self, artifacts):
        params = self.request.GET
        if name := params.get("name", "").strip():
            artifacts = artifacts.filter(name__icontains=name)
        if (kind := params.get("type")) in ArtifactType.values:
            artifacts = artifacts.filter(pk__in=self.restrict(ArtifactVersion).filter(type=kind).values("artifact"))
        if tag := params.get("tag", "").strip():
            links = TagResource.objects.filter(resource_type=TaggableResourceType.ARTIFACT, tag__name=tag)
            artifacts = artifacts.filter(pk__in=links.values("resource_id"))
        return artifacts

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = context["artifacts"]
        tags = self.tags_by_resource(TaggableResourceType.ARTIFACT, [a.pk for a in page])
        for artifact in page:
            artifact.tag_list = tags.get(artifact.pk, [])
        context["types"] = ArtifactType.choices
        context["query"] = self.request.GET.copy()
        context["query"].pop("page", None)
        return context


class ArtifactDetailView(RegistryPage, ListView):
    """One artifact and its versions, newest first."""

    template_name = "mlmeta/artifact_detail.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "versions"

    def get_queryset(self):
        self.artifact = self.get_or_404(self.restrict(Artifact).select_related("project"), self.kwargs["pk"])
        return self.restrict(ArtifactVersion).filter(artifact=self.artifact).order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(artifact=self.artifact, **kwargs)
        context["tags"] = self.tags_by_resource(TaggableResourceType.ARTIFACT, [self.artifact.pk]).get(
            self.artifact.pk, []
        )
        return context


class ArtifactVersionDetailView(RegistryPage, TemplateView):
    """One artifact version: facts, lineage (the producing step and run, the consuming steps),
    metadata, tags, visualizations and the download link."""

    template_name = "mlmeta/artifact_version_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        versions = self.restrict(ArtifactVersion).select_related("artifact", "project", "artifact_store", "user")
        version = self.get_or_404(versions, self.kwargs["pk"])
        shown = list(version.visualizations.order_by("created", "id"))
        context.update(
            version=version,
            producers=self.links(StepRunOutput, version)[:5],
            consumers=self.links(StepRunInput, version)[:CONSUMERS_SHOWN],
            metadata=self.metadata_of(MetadataResourceType.ARTIFACT_VERSION, version.pk),
            tags=self.tags_by_resource(TaggableResourceType.ARTIFACT_VERSION, [version.pk]).get(version.pk, []),
            visualizations=[
                {"index": i, **visualizations.render(v, version.artifact_store, self.request.user)}
                for i, v in enumerate(shown)
            ],
        )
        return context

    def links(self, model, version):
        rows = self.restrict(model).filter(artifact_version=version)
        return rows.select_related("step_run__pipeline_run").order_by("created")


class VisualizationFrameView(RegistryPage, View):
    """The bytes of one HTML or image visualization, for an <iframe sandbox> or <img>.

    The CSP `sandbox` makes the document an opaque origin without scripts, so HTML from an
    artifact can neither run code nor read MLMeta's cookies or pages.
    """

    def get(self, request, pk, index):
        version = self.get_or_404(self.restrict(ArtifactVersion).select_related("artifact_store"), pk)
        shown = list(version.visualizations.order_by("created", "id"))
        served = None
        if 0 <= index < len(shown):
            served = visualizations.raw(shown[index], version.artifact_store, request.user)
        if served is None:
            response = HttpResponse(b"This visualization cannot be read.", status=404, content_type="text/plain")
        else:
            response = HttpResponse(served[0], content_type=served[1])
        response["Content-Security-Policy"] = visualizations.SANDBOX_CSP
        response["X-Frame-Options"] = "SAMEORIGIN"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class ArtifactVersionDownloadView(RegistryPage, View):
    """The artifact's files as a zip, for a logged-in reader; a store problem is a page, not a 500."""

    def get(self, request, pk):
        versions = self.restrict(ArtifactVersion).select_related("artifact", "artifact_store")
        version = self.get_or_404(versions, pk)
        try:
            archive = artifact_files.zip_directory(version.uri, version.artifact_store, request.user)
        except ZenError as exc:
            context = {"problem": exc.message, "version": version}
            status = exc.status_code if 400 <= exc.status_code < 500 else 502
            return TemplateResponse(request, "mlmeta/artifact_download_failed.html", context, status=status)
        filename = f"{version.artifact.name}_{version.version}.zip".replace("/", "_")
        return FileResponse(archive, as_attachment=True, filename=filename, content_type="application/zip")
