from django.db import models, transaction

from core.counters import next_counter
from mlmeta.choices import ExecutionStatus, StepRunInputArtifactType, StepType
from tenants.models import ProjectOwnedModel, TenantChildModel

__all__ = ["Logs", "PipelineRun", "StepRun", "StepRunInput", "StepRunOutput"]


class PipelineRun(ProjectOwnedModel):
    """One execution of a pipeline snapshot. `index` numbers the runs of a pipeline (1, 2, ...)."""

    name = models.CharField(max_length=255)
    pipeline = models.ForeignKey(
        "mlmeta.Pipeline", on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    snapshot = models.ForeignKey(
        "mlmeta.PipelineSnapshot", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    source_snapshot = models.ForeignKey(
        "mlmeta.PipelineSnapshot", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stack = models.ForeignKey("mlmeta.Stack", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    build = models.ForeignKey(
        "mlmeta.PipelineBuild", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    schedule = models.ForeignKey(
        "mlmeta.Schedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    model_version = models.ForeignKey(
        "mlmeta.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    index = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.INITIALIZING)
    status_reason = models.CharField(max_length=255, blank=True, null=True)
    orchestrator_run_id = models.CharField(max_length=255, blank=True, null=True)
    start_time = models.DateTimeField(blank=True, null=True)
    end_time = models.DateTimeField(blank=True, null=True)
    orchestrator_environment = models.JSONField(default=dict, blank=True)
    client_environment = models.JSONField(default=dict, blank=True)
    trigger_info = models.JSONField(blank=True, null=True)
    trigger_execution_info = models.JSONField(blank=True, null=True)
    exception_info = models.JSONField(blank=True, null=True)
    enable_heartbeat = models.BooleanField(default=False)
    original_run = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries")
    parent_run = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children")
    root_run = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    child_key = models.CharField(max_length=255, blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="run_name_unique_in_project"),
            models.UniqueConstraint(
                fields=["pipeline", "index"], condition=models.Q(index__gt=0), name="run_index_unique_in_pipeline"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "project", "-created"], name="run_project_created"),
            models.Index(fields=["pipeline", "-created"], name="run_pipeline_created"),
            models.Index(fields=["project", "status", "-created"], name="run_project_status_created"),
            models.Index(fields=["snapshot", "orchestrator_run_id"], name="run_snapshot_orchestrator"),
        ]

    def __str__(self):
        return self.name

    @property
    def in_progress(self) -> bool:
        return self.status not in ExecutionStatus.finished()

    def save(self, *args, **kwargs):
        """New runs of a pipeline take the next index; the counter keeps concurrent creators apart."""
        if self._state.adding and self.pipeline_id and not self.index:
            with transaction.atomic():
                self.index = next_counter(type(self.pipeline), self.pipeline_id, "run_counter")
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)


class StepRun(ProjectOwnedModel):
    """One step of a pipeline run; a cached step points at the step run it reused."""

    pipeline_run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=StepType.choices, blank=True, null=True)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)
    version = models.PositiveIntegerField(default=1)
    is_retriable = models.BooleanField(default=False)
    start_time = models.DateTimeField(blank=True, null=True)
    end_time = models.DateTimeField(blank=True, null=True)
    latest_heartbeat = models.DateTimeField(blank=True, null=True)
    heartbeat_threshold = models.IntegerField(blank=True, null=True)
    cache_key = models.CharField(max_length=255, blank=True, null=True)
    cache_expires_at = models.DateTimeField(blank=True, null=True)
    code_hash = models.CharField(max_length=255, blank=True, null=True)
    docstring = models.TextField(blank=True, null=True)
    source_code = models.TextField(blank=True, null=True)
    exception_info = models.JSONField(blank=True, null=True)
    dynamic_config = models.JSONField(blank=True, null=True)
    substitutions = models.JSONField(default=dict, blank=True)
    original_step_run = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="cache_hits"
    )
    parents = models.ManyToManyField("self", symmetrical=False, related_name="children", blank=True)
    model_version = models.ForeignKey(
        "mlmeta.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(ProjectOwnedModel.Meta):
        ordering = ["created"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline_run", "name", "version"], name="step_unique_in_run"),
        ]
        indexes = [
            models.Index(fields=["project", "cache_key", "status", "-created"], name="step_cache_lookup"),
            models.Index(fields=["tenant", "project", "-created"], name="step_project_created"),
        ]

    def __str__(self):
        return self.name

    @property
    def in_progress(self) -> bool:
        return self.status not in ExecutionStatus.finished()


class StepRunInput(TenantChildModel):
    """An artifact version a step run consumed, under the step's input name."""

    parent_field = "step_run"

    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="input_links")
    artifact_version = models.ForeignKey(
        "mlmeta.ArtifactVersion", on_delete=models.CASCADE, related_name="consumer_links"
    )
    name = models.CharField(max_length=255)
    type = models.CharField(
        max_length=16, choices=StepRunInputArtifactType.choices, default=StepRunInputArtifactType.STEP_OUTPUT
    )

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["step_run", "name", "artifact_version"], name="step_input_unique"),
        ]

    def __str__(self):
        return f"{self.step_run} <- {self.name}"


class StepRunOutput(TenantChildModel):
    """An artifact version a step run produced (or, for a cached step, reused), under its output name."""

    parent_field = "step_run"

    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="output_links")
    artifact_version = models.ForeignKey(
        "mlmeta.ArtifactVersion", on_delete=models.CASCADE, related_name="producer_links"
    )
    name = models.CharField(max_length=255)

    class Meta(TenantChildModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["step_run", "name", "artifact_version"], name="step_output_unique"),
        ]

    def __str__(self):
        return f"{self.step_run} -> {self.name}"


class Logs(ProjectOwnedModel):
    """Where the logs of a run, step or client process are stored (a file in the artifact store or a log store)."""

    uri = models.CharField(max_length=4096, blank=True, null=True)
    source = models.CharField(max_length=64)
    artifact_store = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    log_store = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pipeline_run = models.ForeignKey(
        PipelineRun, on_delete=models.CASCADE, null=True, blank=True, related_name="log_collection"
    )
    step_run = models.ForeignKey(StepRun, on_delete=models.CASCADE, null=True, blank=True, related_name="logs")
    hook_invocation_id = models.UUIDField(blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        verbose_name_plural = "logs"

    def __str__(self):
        return f"{self.source} logs {str(self.pk)[:8]}"
