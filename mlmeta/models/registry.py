from django.db import models, transaction

from core.counters import next_counter
from mlmeta.choices import ModelStage
from tenants.models import ProjectOwnedModel, TenantChildModel

__all__ = ["Model", "ModelVersion", "ModelVersionArtifact", "ModelVersionPipelineRun", "StageTaken"]

# Stages that one version of a model holds at a time.
EXCLUSIVE_STAGES = (ModelStage.STAGING, ModelStage.PRODUCTION)


class StageTaken(Exception):
    """Another version of the model holds the requested stage and `force` was not given."""

    def __init__(self, holder, stage):
        super().__init__(f"Model version {holder.name} is in stage {stage}, but `force` flag is False.")
        self.holder = holder


class Model(ProjectOwnedModel):
    """A model in the registry, with its model-card fields; versions are numbered per model."""

    rbac_type = "model"

    name = models.CharField(max_length=255)
    license = models.TextField(blank=True, null=True)
    description = models.TextField(blank=True, null=True)
    audience = models.TextField(blank=True, null=True)
    use_cases = models.TextField(blank=True, null=True)
    limitations = models.TextField(blank=True, null=True)
    trade_offs = models.TextField(blank=True, null=True)
    ethics = models.TextField(blank=True, null=True)
    save_models_to_registry = models.BooleanField(default=True)
    version_counter = models.PositiveIntegerField(default=0, editable=False)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="model_name_unique_in_project")]
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="model_project_created")]

    def __str__(self):
        return self.name


class ModelVersion(ProjectOwnedModel):
    """A version of a model: number 1, 2, ... per model, a name (the number unless given) and a stage."""

    rbac_type = "model_version"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=255)
    number = models.PositiveIntegerField(editable=False)
    description = models.TextField(blank=True, null=True)
    stage = models.CharField(max_length=16, choices=ModelStage.choices, blank=True, null=True)
    artifact_versions = models.ManyToManyField(
        "mlmeta.ArtifactVersion", through="ModelVersionArtifact", related_name="model_versions", blank=True
    )
    pipeline_runs = models.ManyToManyField(
        "mlmeta.PipelineRun", through="ModelVersionPipelineRun", related_name="model_versions", blank=True
    )

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="model_version_number_unique"),
            models.UniqueConstraint(fields=["model", "name"], name="model_version_name_unique"),
        ]
        indexes = [models.Index(fields=["model", "-created"], name="modelversion_model_created")]

    def __str__(self):
        return f"{self.model.name}:{self.name}"

    def save(self, *args, **kwargs):
        if self._state.adding and not self.number:
            # No savepoint when nested: a failure here fails the caller's transaction anyway.
            with transaction.atomic(savepoint=False):
                self.number = next_counter(Model, self.model_id, "version_counter")
                self.name = self.name or str(self.number)
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)

    def set_stage(self, stage: str | None, force: bool = False) -> "ModelVersion | None":
        """Move this version to `stage`; staging and production hold one version per model.

        The version holding the stage is moved to `archived` when `force` is set, otherwise
        StageTaken is raised. Saves a stored version; returns the archived one, if any.
        """
        with transaction.atomic():
            holder = None
            if stage in EXCLUSIVE_STAGES:
                holder = (
                    ModelVersion.objects.select_for_update()
                    .filter(model_id=self.model_id, stage=stage)
                    .exclude(pk=self.pk)
                    .first()
                )
                if holder is not None and not force:
                    raise StageTaken(holder, stage)
                if holder is not None:
                    holder.stage = ModelStage.ARCHIVED
                    holder.save(update_fields=["stage", "updated"])
            self.stage = stage
            if not self._state.adding:
                self.save(update_fields=["stage", "updated"])
        return holder


class ModelVersionArtifact(TenantChildModel):
    parent_field = "model_version"
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="artifact_links")
    artifact_version = models.ForeignKey(
        "mlmeta.ArtifactVersion", on_delete=models.CASCADE, related_name="model_version_links"
    )

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["model_version", "artifact_version"], name="mv_artifact_unique"),
        ]

    def __str__(self):
        return f"{self.model_version} - {self.artifact_version}"


class ModelVersionPipelineRun(TenantChildModel):
    parent_field = "model_version"
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="run_links")
    pipeline_run = models.ForeignKey("mlmeta.PipelineRun", on_delete=models.CASCADE, related_name="model_version_links")

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["model_version", "pipeline_run"], name="mv_run_unique"),
        ]

    def __str__(self):
        return f"{self.model_version} - {self.pipeline_run}"
