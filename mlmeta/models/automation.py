"""Triggers: on an event (a run of a pipeline completed or failed, a model version promoted to a
stage, an inbound webhook, a schedule's tick) run a snapshot or call a webhook. Each dispatch is
recorded. ZenML 0.98's triggers (`/api/v1/triggers`) are the same rows (docs/automation.md)."""

from django.db import models

from tenants.models import ProjectOwnedModel
from tenants.models.base import TenantChildModel

__all__ = ["Trigger", "TriggerDispatch", "TriggerSnapshot"]


class TriggerEvent(models.TextChoices):
    RUN_COMPLETED = "run_completed", "A run of the pipeline completed"
    RUN_FAILED = "run_failed", "A run of the pipeline failed"
    MODEL_PROMOTED = "model_promoted", "A version of the model was promoted to the stage"
    WEBHOOK_GITHUB = "github_push", "GitHub push (inbound webhook)"
    WEBHOOK_GENERIC = "webhook", "Signed inbound webhook"
    # ZenML 0.98's trigger types (/api/v1/triggers): they run their attached snapshots.
    SCHEDULE = "schedule", "A tick of the trigger's schedule (ZenML schedule trigger)"
    PLATFORM_EVENT = "platform_event", "A target event of the source pipeline, run or snapshot (ZenML platform event)"


class TriggerAction(models.TextChoices):
    RUN_SNAPSHOT = "run_snapshot", "Run a snapshot"
    CALL_WEBHOOK = "call_webhook", "Call a webhook"


class TriggerConcurrency(models.TextChoices):
    SKIP = "skip", "Skip while the previous run of the snapshot is unfinished"
    SUBMIT = "submit", "Submit anyway"


class Trigger(ProjectOwnedModel):
    """What to watch (`event` with its pipeline, or model and stage, or an inbound webhook) and
    what to do (run `snapshot` as the trigger's owner, or POST the event to `webhook_url`).
    `secret_sealed` signs outgoing webhooks and verifies inbound ones (tenants.crypto).

    ZenML triggers run their `attachments` instead: a `schedule` one ticks with its `schedule`
    row (celery beat, mlmeta.scheduling), a `platform_event` one watches `source_entity`
    ("pipeline:<id>", "pipeline_run:<id>", "pipeline_snapshot:<id>") for `target_events`
    ("event:run_completed event:run_failed", ZenML's own encoding)."""

    rbac_type = "schedule"  # automation shares the schedule permissions (documented)

    name = models.CharField(max_length=255)
    active = models.BooleanField(default=True)
    event = models.CharField(max_length=32, choices=TriggerEvent.choices)
    pipeline = models.ForeignKey("mlmeta.Pipeline", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    model = models.ForeignKey("mlmeta.Model", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    stage = models.CharField(max_length=32, blank=True, default="")
    branch = models.CharField(max_length=255, blank=True, default="")
    action = models.CharField(max_length=16, choices=TriggerAction.choices)
    snapshot = models.ForeignKey(
        "mlmeta.PipelineSnapshot", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    webhook_url = models.URLField(max_length=1024, blank=True, default="")
    secret_sealed = models.TextField(blank=True, default="", editable=False)
    concurrency = models.CharField(max_length=8, choices=TriggerConcurrency.choices, default=TriggerConcurrency.SKIP)
    is_archived = models.BooleanField(default=False)
    schedule = models.OneToOneField(
        "mlmeta.Schedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="trigger"
    )
    source_entity = models.CharField(max_length=255, blank=True, default="")
    target_events = models.CharField(max_length=255, blank=True, default="")

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="trigger_project_created")]

    def __str__(self):
        return self.name


class TriggerSnapshot(TenantChildModel):
    """A snapshot attached to a ZenML trigger: `snapshot` is the executable one derived (with the
    attachment's run configuration) from the snapshot the user attached, its `source_snapshot`.
    `dispatch_state` is ZenML's TriggerSnapshotDispatchState of the latest dispatch."""

    parent_field = "trigger"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="attachments")
    snapshot = models.ForeignKey("mlmeta.PipelineSnapshot", on_delete=models.CASCADE, related_name="+")
    dispatch_state = models.JSONField(blank=True, null=True)
    last_run_id = models.UUIDField(blank=True, null=True, editable=False)

    class Meta(TenantChildModel.Meta):
        constraints = [models.UniqueConstraint(fields=["trigger", "snapshot"], name="trigger_snapshot_once")]


class TriggerDispatch(TenantChildModel):
    """One firing of a trigger: the event, the outcome and what it created. `event_key` makes a
    dispatch idempotent: the same event (a run reaching a status, a tick) is dispatched once."""

    parent_field = "trigger"

    trigger = models.ForeignKey(Trigger, on_delete=models.CASCADE, related_name="dispatches")
    event_key = models.CharField(max_length=255)
    event = models.JSONField(default=dict)
    status = models.CharField(max_length=16, default="pending")  # pending | succeeded | failed | skipped
    response_code = models.PositiveIntegerField(blank=True, null=True)
    error = models.TextField(blank=True, default="")
    run_id = models.UUIDField(blank=True, null=True)

    class Meta(TenantChildModel.Meta):
        constraints = [models.UniqueConstraint(fields=["trigger", "event_key"], name="trigger_dispatch_once")]
        indexes = [models.Index(fields=["trigger", "-created"], name="trigger_dispatch_created")]
