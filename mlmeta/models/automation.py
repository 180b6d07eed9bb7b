"""Triggers: on an event (a run of a pipeline completed or failed, a model version promoted to a
stage, an inbound webhook) run a snapshot or call a webhook. Each dispatch is recorded."""

from django.db import models

from tenants.models import ProjectOwnedModel
from tenants.models.base import TenantChildModel

__all__ = ["Trigger", "TriggerDispatch"]


class TriggerEvent(models.TextChoices):
    RUN_COMPLETED = "run_completed", "A run of the pipeline completed"
    RUN_FAILED = "run_failed", "A run of the pipeline failed"
    MODEL_PROMOTED = "model_promoted", "A version of the model was promoted to the stage"
    WEBHOOK_GITHUB = "github_push", "GitHub push (inbound webhook)"
    WEBHOOK_GENERIC = "webhook", "Signed inbound webhook"


class TriggerAction(models.TextChoices):
    RUN_SNAPSHOT = "run_snapshot", "Run a snapshot"
    CALL_WEBHOOK = "call_webhook", "Call a webhook"


class Trigger(ProjectOwnedModel):
    """What to watch (`event` with its pipeline, or model and stage, or an inbound webhook) and
    what to do (run `snapshot` as the trigger's owner, or POST the event to `webhook_url`).
    `secret_sealed` signs outgoing webhooks and verifies inbound ones (tenants.crypto)."""

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

    class Meta(ProjectOwnedModel.Meta):
        indexes = [models.Index(fields=["tenant", "project", "-created"], name="trigger_project_created")]

    def __str__(self):
        return self.name


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
