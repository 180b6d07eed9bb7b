from django.db import models, transaction

from core.counters import next_counter
from mlmeta.choices import ArtifactSaveType, ArtifactType, VisualizationType
from tenants.models import ProjectOwnedModel, TenantChildModel

__all__ = ["Artifact", "ArtifactVersion", "ArtifactVisualization"]


class Artifact(ProjectOwnedModel):
    """A named artifact of a project (e.g. `training_pipeline::trainer::output`); data lives in versions."""

    rbac_type = "artifact"

    name = models.CharField(max_length=255)
    has_custom_name = models.BooleanField(default=False)
    version_counter = models.PositiveIntegerField(default=0, editable=False)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="artifact_name_unique_in_project")]
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="artifact_project_created")]

    def __str__(self):
        return self.name


class ArtifactVersion(ProjectOwnedModel):
    """One stored value of an artifact: its URI in the artifact store and how to load it.

    `version` is "1", "2", ... (numbered per artifact) unless the client gave a custom version.
    """

    rbac_type = "artifact_version"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=255)
    version_number = models.PositiveIntegerField(blank=True, null=True, editable=False)
    type = models.CharField(max_length=32, choices=ArtifactType.choices, default=ArtifactType.DATA)
    uri = models.TextField()
    materializer = models.JSONField(default=dict)
    data_type = models.JSONField(default=dict)
    save_type = models.CharField(max_length=16, choices=ArtifactSaveType.choices, default=ArtifactSaveType.STEP_OUTPUT)
    artifact_store = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    content_hash = models.CharField(max_length=255, blank=True, null=True)
    item_count = models.BigIntegerField(blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["artifact", "version"], name="artifact_version_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "project", "-created"], name="artversion_project_created"),
            models.Index(fields=["tenant", "-created"], name="artversion_tenant_created"),
            models.Index(fields=["artifact", "-created"], name="artversion_artifact_created"),
        ]

    def __str__(self):
        return f"{self.artifact.name}:{self.version}"

    def save(self, *args, **kwargs):
        """Without a version, take the artifact's next number; concurrent creators get distinct ones."""
        if self._state.adding and not self.version:
            # No savepoint when nested: a failure here fails the caller's transaction anyway.
            with transaction.atomic(savepoint=False):
                self.version_number = next_counter(Artifact, self.artifact_id, "version_counter")
                self.version = str(self.version_number)
                return super().save(*args, **kwargs)
        if self.version and self.version.isdigit() and self.version_number is None:
            self.version_number = int(self.version)
        return super().save(*args, **kwargs)


class ArtifactVisualization(TenantChildModel):
    """A rendering of an artifact version (HTML, Markdown, image, CSV, JSON) stored beside it."""

    parent_field = "artifact_version"

    artifact_version = models.ForeignKey(ArtifactVersion, on_delete=models.CASCADE, related_name="visualizations")
    type = models.CharField(max_length=16, choices=VisualizationType.choices)
    uri = models.TextField()

    def __str__(self):
        return f"{self.type} of {self.artifact_version_id}"
