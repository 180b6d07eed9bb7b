"""Model registry pages: models, one model's versions with stage badges, one version with its
model card, linked artifacts and runs, and promotion to a stage."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import redirect
from django.views import View
from django.views.generic import ListView, TemplateView

from core.paginators import CappedCountPaginator
from mlmeta.choices import ArtifactType, MetadataResourceType, ModelStage, TaggableResourceType
from mlmeta.dashboard.base import RegistryPage
from mlmeta.dashboard.forms import PromoteForm
from mlmeta.models import Model, ModelVersion, ModelVersionArtifact, ModelVersionPipelineRun
from mlmeta.models.registry import StageTaken
from tenants import audit, rbac

LINKS_SHOWN = 100
# The model card, in the order the page shows it.
CARD_FIELDS = ("description", "license", "audience", "use_cases", "limitations", "trade_offs", "ethics")


class ModelListView(RegistryPage, ListView):
    template_name = "mlmeta/model_list.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "models"

    def get_queryset(self):
        versions = self.restrict(ModelVersion).filter(model=OuterRef("pk"))
        models = self.restrict(Model).select_related("project")
        if name := self.request.GET.get("name", "").strip():
            models = models.filter(name__icontains=name)
        return models.annotate(
            latest_version=Subquery(versions.order_by("-number").values("name")[:1]),
            version_count=Subquery(versions.order_by().values("model").annotate(n=Count("pk")).values("n")[:1]),
            production=Subquery(versions.filter(stage=ModelStage.PRODUCTION).values("name")[:1]),
        ).order_by("-created")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tags = self.tags_by_resource(TaggableResourceType.MODEL, [m.pk for m in context["models"]])
        for model in context["models"]:
            model.tag_list = tags.get(model.pk, [])
        return context


class ModelDetailView(RegistryPage, ListView):
    """One model: its card and its versions, newest first, with stage badges."""

    template_name = "mlmeta/model_detail.html"
    paginate_by = 50
    paginator_class = CappedCountPaginator
    context_object_name = "versions"

    def get_queryset(self):
        self.model = self.get_or_404(self.restrict(Model).select_related("project"), self.kwargs["pk"])
        return self.restrict(ModelVersion).filter(model=self.model).order_by("-number")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(model=self.model, **kwargs)
        context["card"] = model_card(self.model)
        context["tags"] = self.tags_by_resource(TaggableResourceType.MODEL, [self.model.pk]).get(self.model.pk, [])
        return context


def model_card(model) -> list[tuple[str, str]]:
    """The model-card fields that are filled in, as (label, text)."""
    return [
        (field.replace("_", " ").capitalize(), getattr(model, field)) for field in CARD_FIELDS if getattr(model, field)
    ]


class ModelVersionDetailView(RegistryPage, TemplateView):
    """One model version: stage, card, artifacts by kind (data / model / deployment), runs,
    metadata, and the promote form for those allowed to promote."""

    template_name = "mlmeta/model_version_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        versions = self.restrict(ModelVersion).select_related("model", "project", "user")
        version = self.get_or_404(versions, self.kwargs["pk"])
        may_promote = rbac.check(self.request.user, "promote", version)
        context.update(
            version=version,
            card=model_card(version.model),
            artifacts=self.artifacts_by_kind(version),
            runs=self.restrict(ModelVersionPipelineRun)
            .filter(model_version=version)
            .select_related("pipeline_run__pipeline")
            .order_by("-created")[:LINKS_SHOWN],
            metadata=self.metadata_of(MetadataResourceType.MODEL_VERSION, version.pk),
            tags=self.tags_by_resource(TaggableResourceType.MODEL_VERSION, [version.pk]).get(version.pk, []),
            form=kwargs.get("form") or (PromoteForm(initial={"stage": version.stage}) if may_promote else None),
        )
        return context

    def artifacts_by_kind(self, version) -> dict:
        """Linked artifact versions grouped as ZenML's model page does: data, model, deployment."""
        links = self.restrict(ModelVersionArtifact).filter(model_version=version)
        groups = {"Data": [], "Model": [], "Deployment": []}
        for link in links.select_related("artifact_version__artifact").order_by("created")[:LINKS_SHOWN]:
            kind = link.artifact_version.type
            group = "Model" if kind == ArtifactType.MODEL else "Deployment" if kind == ArtifactType.SERVICE else "Data"
            groups[group].append(link.artifact_version)
        return groups


class ModelVersionPromoteView(ModelVersionDetailView, View):
    """POST: move the version to a stage (needs `promote`). A stage another version holds is
    refused unless "force" is ticked, which archives that version, as `set_stage` does."""

    http_method_names = ["post"]

    def post(self, request, pk):
        version = self.get_or_404(self.restrict(ModelVersion).select_related("model"), pk)
        if not rbac.check(request.user, "promote", version):
            raise PermissionDenied("You may not promote this model version.")
        form = PromoteForm(data=request.POST)
        if form.is_valid():
            before = version.stage
            try:
                archived = version.set_stage(form.cleaned_data["stage"], force=form.cleaned_data["force"])
            except StageTaken as exc:
                form.add_error(
                    "stage",
                    f"Version {exc.holder.name} is already in {form.cleaned_data['stage']}. "
                    "Tick “Archive the current holder” to replace it.",
                )
            else:
                audit.record(
                    "update", request=request, obj=version, changes={"stage": [before, version.stage]}, detail="promote"
                )
                note = f" Version {archived.name} was archived." if archived else ""
                messages.success(request, f"Version {version.name} is now {version.stage or 'without a stage'}.{note}")
                return redirect("model-version-detail", pk=version.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)
