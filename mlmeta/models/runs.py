from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from core.counters import next_counter
from mlmeta import run_status
from mlmeta.choices import ExecutionStatus, StepRunInputArtifactType, StepType
from tenants.models import ProjectOwnedModel, TenantChildModel

__all__ = ["Logs", "PipelineRun", "StepRun", "StepRunInput", "StepRunOutput"]


class PipelineRun(ProjectOwnedModel):
    """One execution of a pipeline snapshot. `index` numbers the runs of a pipeline (1, 2, ...)."""

    rbac_type = "pipeline_run"

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
    # end_time - start_time, stored and kept by the database itself on every write (the API, status
    # refreshes, the launcher's queryset updates, bulk inserts), so "sort by duration" reads an index.
    duration = models.GeneratedField(
        expression=F("end_time") - F("start_time"), output_field=models.DurationField(), db_persist=True
    )
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
    # Server-side runs (mlmeta.launching): how the run was started (trigger, source run, overrides,
    # runner, its handle) and when a Celery task claimed it, so a redelivered task never launches twice.
    launch = models.JSONField(blank=True, null=True)
    runner_claimed_at = models.DateTimeField(blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="run_name_unique_in_project"),
            models.UniqueConstraint(
                fields=["pipeline", "index"], condition=models.Q(index__gt=0), name="run_index_unique_in_pipeline"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "project", "-created"], name="run_project_created"),
            models.Index(fields=["tenant", "-created"], name="run_tenant_created"),
            models.Index(fields=["pipeline", "-created"], name="run_pipeline_created"),
            models.Index(fields=["project", "status", "-created"], name="run_project_status_created"),
            models.Index(fields=["snapshot", "orchestrator_run_id"], name="run_snapshot_orchestrator"),
            # Read forwards for "longest first" (DESC NULLS FIRST, PostgreSQL's default for DESC),
            # backwards for "shortest first" (ASC NULLS LAST): see mlmeta.run_filters.SORTS.
            models.Index(fields=["tenant", "-duration", "-id"], name="run_tenant_duration"),
            models.Index(fields=["tenant", "project", "-duration", "-id"], name="run_project_duration"),
        ]

    def __str__(self):
        return self.name

    @property
    def in_progress(self) -> bool:
        return self.status not in ExecutionStatus.finished()

    @property
    def is_placeholder(self) -> bool:
        """A run the client registered before its orchestrator started (wire.md 8.3 #12)."""
        return self.status == ExecutionStatus.INITIALIZING and not self.orchestrator_run_id

    def substitutions(self) -> dict:
        """`date`/`time` of the run's start plus the pipeline's own substitutions, as ZenML fills them."""
        configured = dict((self.snapshot.pipeline_configuration if self.snapshot else {}).get("substitutions") or {})
        start = self.start_time or self.created
        configured.setdefault("date", start.strftime("%Y_%m_%d"))
        configured.setdefault("time", start.strftime("%H_%M_%S_%f"))
        return configured

    def update_status(self, status: str, reason: str | None = None, end_time=None) -> bool:
        """Apply a client-reported status unless it is late (the run already moved past it) or
        the run is finished; returns whether anything changed. Decided on the locked row, so a
        status the steps just set is not overwritten by a stale copy."""
        with transaction.atomic():
            self.status, _, _ = self._lock()
            if not run_status.accepts(self.status, status):
                return False
            self.status = status
            if reason is not None:
                self.status_reason = reason
            if status in ExecutionStatus.finished():
                self.end_time = end_time or self.end_time or timezone.now()
            self.save(update_fields=["status", "status_reason", "end_time", "updated"])
        return True

    def _lock(self) -> tuple[str, int | None, bool | None]:
        """Lock the run's row; returns its current status and its snapshot's step count and kind."""
        locked = type(self)._base_manager.select_for_update(of=("self",)).filter(pk=self.pk)
        return locked.values_list("status", "snapshot__step_count", "snapshot__is_dynamic").get()

    def refresh_status(self) -> str:
        """Recompute the status from the steps (wire.md 9.1): a static pipeline's run completes
        once every step of its snapshot is completed or cached. Returns the status.

        The run row is locked first, so two steps finishing at once cannot both miss each other."""
        with transaction.atomic(savepoint=False):  # within the caller's transaction if there is one
            self.status, step_count, is_dynamic = self._lock()
            rows = self.steps.values_list("name", "version", "status")
            statuses = run_status.latest_per_step(rows).values()
            expected = None if is_dynamic or step_count is None else step_count
            new = run_status.derive_run_status(self.status, statuses, expected)
            if new != self.status:
                self.status = new
                if new in ExecutionStatus.finished():
                    self.end_time = timezone.now()
                self.save(update_fields=["status", "end_time", "updated"])
        return self.status

    def replace_placeholder(
        self, orchestrator_run_id: str, status: str, orchestrator_environment: dict, start_time=None
    ) -> None:
        """The orchestrator's `POST /runs` takes over the placeholder: same id and name, now running.
        A placeholder the server queued has no start time yet: the orchestrator's start is it."""
        self.orchestrator_run_id = orchestrator_run_id
        self.orchestrator_environment = orchestrator_environment or {}
        self.status = status
        self.start_time = self.start_time or start_time or timezone.now()
        fields = ["orchestrator_run_id", "orchestrator_environment", "status", "start_time", "updated"]
        if self.launch:  # a server-side run: the launcher's "queued"/"starting" note is over
            self.status_reason = None
            fields.append("status_reason")
        self.save(update_fields=fields)

    def request_stop(self, graceful: bool) -> None:
        """Stop the run: gracefully (steps in flight may finish) or at once (they are marked stopped)."""
        if graceful:
            self.update_status(ExecutionStatus.STOPPING)
            return
        with transaction.atomic():
            self.status, _, _ = self._lock()
            if not self.in_progress:
                return
            now = timezone.now()
            unfinished = self.steps.exclude(status__in=ExecutionStatus.finished())
            unfinished.update(status=ExecutionStatus.STOPPED, end_time=now, updated=now)
            self.status = ExecutionStatus.STOPPED
            self.end_time = now
            self.save(update_fields=["status", "end_time", "updated"])

    def save(self, *args, **kwargs):
        """New runs of a pipeline take the next index; the counter keeps concurrent creators apart."""
        if self._state.adding and self.pipeline_id and not self.index:
            # No savepoint when nested: a failure here fails the caller's transaction anyway.
            with transaction.atomic(savepoint=False):
                self.index = next_counter(type(self.pipeline), self.pipeline_id, "run_counter")
                return super().save(*args, **kwargs)
        return super().save(*args, **kwargs)


class StepRun(ProjectOwnedModel):
    """One step of a pipeline run; a cached step points at the step run it reused."""

    rbac_type = "pipeline_run"
    rbac_ident = "pipeline_run_id"

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
            models.Index(fields=["tenant", "-created"], name="step_tenant_created"),
        ]

    def __str__(self):
        return self.name

    @property
    def in_progress(self) -> bool:
        return self.status not in ExecutionStatus.finished()

    def update_status(self, status: str, end_time=None) -> None:
        """Record the step's new status and recompute its run's (wire.md 9.1)."""
        self.status = status
        if status in ExecutionStatus.finished():
            self.end_time = end_time or self.end_time or timezone.now()
        self.save(update_fields=["status", "end_time", "updated"])
        self.pipeline_run.refresh_status()

    @property
    def cache_expired(self) -> bool:
        return self.cache_expires_at is not None and self.cache_expires_at <= timezone.now()

    def expire_cache(self) -> None:
        """Stop later runs from reusing this step (ZenML's cache expiry: `cache_expires_at` set to now;
        the cache lookup skips expired entries). The step itself and its outputs stay."""
        self.cache_expires_at = timezone.now()
        self.save(update_fields=["cache_expires_at", "updated"])

    def beat(self) -> None:
        """A heartbeat from the process running the step."""
        self.latest_heartbeat = timezone.now()
        self.save(update_fields=["latest_heartbeat", "updated"])


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

    rbac_type = "pipeline_run"
    rbac_ident = "pipeline_run_id"

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
