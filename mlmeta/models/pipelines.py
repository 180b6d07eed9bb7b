from django.db import models

from tenants.models import ProjectOwnedModel

__all__ = [
    "CodeReference",
    "CodeRepository",
    "Pipeline",
    "PipelineBuild",
    "PipelineSnapshot",
    "RunTemplate",
    "Schedule",
]


class Pipeline(ProjectOwnedModel):
    """A named pipeline of a project; its runs are numbered 1, 2, ... through `run_counter`."""

    rbac_type = "pipeline"

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, null=True)
    run_counter = models.PositiveIntegerField(default=0, editable=False)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="pipeline_name_unique_in_project")]
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="pipeline_project_created")]

    def __str__(self):
        return self.name


class CodeRepository(ProjectOwnedModel):
    rbac_type = "code_repository"
    name = models.CharField(max_length=255)
    config = models.JSONField(default=dict, blank=True)
    source = models.JSONField(default=dict)
    logo_url = models.CharField(max_length=1024, blank=True, null=True)
    description = models.TextField(blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        verbose_name_plural = "code repositories"
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="coderepo_name_unique_in_project")]

    def __str__(self):
        return self.name


class CodeReference(ProjectOwnedModel):
    """A commit (and subdirectory) of a code repository that a snapshot was built from."""

    rbac_type = "code_repository"
    rbac_ident = "code_repository_id"

    code_repository = models.ForeignKey(CodeRepository, on_delete=models.CASCADE, related_name="references")
    commit = models.CharField(max_length=255)
    subdirectory = models.CharField(max_length=1024, blank=True)

    def __str__(self):
        return f"{self.code_repository}@{self.commit[:12]}"


class PipelineBuild(ProjectOwnedModel):
    """Docker images built for running a pipeline on a stack."""

    rbac_type = "pipeline_build"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.SET_NULL, null=True, blank=True, related_name="builds")
    stack = models.ForeignKey("mlmeta.Stack", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    images = models.JSONField(default=dict, blank=True)
    is_local = models.BooleanField(default=False)
    contains_code = models.BooleanField(default=False)
    zenml_version = models.CharField(max_length=64, blank=True, null=True)
    python_version = models.CharField(max_length=64, blank=True, null=True)
    duration = models.IntegerField(blank=True, null=True)
    checksum = models.CharField(max_length=255, blank=True, null=True)
    stack_checksum = models.CharField(max_length=255, blank=True, null=True)

    def __str__(self):
        return f"build {str(self.pk)[:8]}"


class Schedule(ProjectOwnedModel):
    """When a pipeline runs by itself: a cron expression, an interval, or once."""

    rbac_type = "schedule"

    name = models.CharField(max_length=255)
    active = models.BooleanField(default=True)
    cron_expression = models.CharField(max_length=255, blank=True, null=True)
    start_time = models.DateTimeField(blank=True, null=True)
    end_time = models.DateTimeField(blank=True, null=True)
    interval_second = models.DurationField(blank=True, null=True)
    catchup = models.BooleanField(default=False)
    run_once_start_time = models.DateTimeField(blank=True, null=True)
    is_archived = models.BooleanField(default=False)
    orchestrator = models.ForeignKey(
        "mlmeta.StackComponent", on_delete=models.SET_NULL, null=True, blank=True, related_name="schedules"
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.SET_NULL, null=True, blank=True, related_name="schedules")
    # Native schedules (fired by celery beat, mlmeta/scheduling.py): what to run and how often.
    snapshot = models.ForeignKey(
        "mlmeta.PipelineSnapshot", on_delete=models.SET_NULL, null=True, blank=True, related_name="native_schedules"
    )
    max_runs = models.PositiveIntegerField(blank=True, null=True)
    run_count = models.PositiveIntegerField(default=0, editable=False)
    concurrency = models.CharField(
        max_length=8, choices=[("skip", "Skip while running"), ("queue", "Queue")], default="skip"
    )
    last_tick = models.DateTimeField(blank=True, null=True, editable=False)
    last_tick_id = models.CharField(max_length=255, blank=True, default="", editable=False)
    last_run_id = models.UUIDField(blank=True, null=True, editable=False)

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="schedule_project_created")]

    def __str__(self):
        return self.name


class PipelineSnapshot(ProjectOwnedModel):
    """The frozen, compiled form of a pipeline (ZenML's "snapshot", formerly "deployment"):
    configuration, one configuration per step and the spec (the DAG). Runs point at it."""

    rbac_type = "pipeline_snapshot"

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="snapshots")
    stack = models.ForeignKey("mlmeta.Stack", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    build = models.ForeignKey(PipelineBuild, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    schedule = models.ForeignKey(Schedule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    code_reference = models.ForeignKey(
        CodeReference, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source_snapshot = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="derived_snapshots"
    )
    template_id = models.UUIDField(blank=True, null=True)
    name = models.CharField(max_length=255, blank=True, null=True)
    description = models.TextField(blank=True, null=True)
    source_code = models.TextField(blank=True, null=True)
    run_name_template = models.CharField(max_length=255)
    pipeline_configuration = models.JSONField(default=dict)
    step_configurations = models.JSONField(default=dict, blank=True)
    # jsonb (PostgreSQL) sorts object keys; the client runs steps in the order it sent them.
    step_order = models.JSONField(default=list, blank=True, editable=False)
    step_count = models.PositiveIntegerField(default=0, editable=False)
    client_environment = models.JSONField(default=dict, blank=True)
    client_version = models.CharField(max_length=64, blank=True, null=True)
    server_version = models.CharField(max_length=64, blank=True, null=True)
    pipeline_version_hash = models.CharField(max_length=255, blank=True, null=True)
    pipeline_spec = models.JSONField(blank=True, null=True)
    is_dynamic = models.BooleanField(default=False)
    code_path = models.CharField(max_length=1024, blank=True, null=True)
    config_template = models.JSONField(blank=True, null=True)
    config_schema = models.JSONField(blank=True, null=True)

    class Meta(ProjectOwnedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="snapshot_name_unique_in_pipeline"),
        ]
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="snapshot_project_created")]

    def __str__(self):
        return self.name or f"snapshot {str(self.pk)[:8]}"

    def ordered_step_configurations(self) -> dict:
        """The step configurations in the order the client compiled them."""
        configurations = self.step_configurations or {}
        order = [name for name in self.step_order if name in configurations]
        return {name: configurations[name] for name in order + [n for n in configurations if n not in order]}

    def save(self, *args, **kwargs):
        configurations = self.step_configurations or {}
        if set(self.step_order) != set(configurations):
            self.step_order = list(configurations)
        self.step_count = len(configurations)
        super().save(*args, **kwargs)


class RunTemplate(ProjectOwnedModel):
    """A named, runnable form of a snapshot (ZenML's run template, deprecated there in favour of
    named snapshots but still served): running it launches `source_snapshot`; the derived
    snapshots of its runs carry its id in `template_id`."""

    rbac_type = "run_template"

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, null=True)
    hidden = models.BooleanField(default=False)
    source_snapshot = models.ForeignKey(
        PipelineSnapshot, on_delete=models.SET_NULL, null=True, blank=True, related_name="run_templates"
    )

    class Meta(ProjectOwnedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="run_template_name_unique_in_project")]
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="run_template_project_created")]

    def __str__(self):
        return self.name
