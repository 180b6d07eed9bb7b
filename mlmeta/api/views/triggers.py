"""ZenML 0.98's triggers (`/api/v1/triggers`) on MLMeta's automation (docs/automation.md): a
`schedule` trigger is a Trigger whose cadence is a Schedule row fired by celery beat, a
`platform_event` one a Trigger matched on run status changes; both run their attached snapshots
(TriggerSnapshot, each a snapshot derived with the attachment's run configuration). Webhook
triggers need ZenML's `/webhooks`, which MLMeta does not serve: their webhook is never found."""

import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound, IllegalOperationError
from core.api.validation import invalid, parse_uuid, validate_body
from mlmeta import launching, scheduling, triggers
from mlmeta.api import references
from mlmeta.api.envelopes.triggers import TriggerEnvelope
from mlmeta.api.filtersets.automation import TriggerFilterSet
from mlmeta.api.views.pipelines import ScheduleViewSet
from mlmeta.api.views.scoped import ProjectScopedViewSet, bool_param
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Schedule, Trigger, TriggerSnapshot
from mlmeta.models.automation import TriggerAction, TriggerEvent
from tenants import rbac

EVENTS = {"schedule": TriggerEvent.SCHEDULE, "platform_event": TriggerEvent.PLATFORM_EVENT}
SCHEMAS = {
    "schedule": ("ScheduleTriggerRequest", "ScheduleTriggerUpdate"),
    "platform_event": ("PlatformEventTriggerRequest", "PlatformEventTriggerUpdate"),
    "webhook": ("WebhookTriggerRequest", "WebhookTriggerUpdate"),
}
# Source entity type -> (model, label, the events ZenML allows for it).
SOURCES = {
    "pipeline": (Pipeline, "pipeline", ("run_completed", "run_failed")),
    "pipeline_run": (PipelineRun, "pipeline run", ("completed", "failed")),
    "pipeline_snapshot": (PipelineSnapshot, "snapshot", ("run_completed", "run_failed")),
}
SCHEDULE_OPTIONS = ("cron_expression", "interval", "run_once_start_time")
UPDATING = {"attach": "update", "detach": "update", "clear_dispatch_state": "update"}


def check_schedule(data) -> None:
    """ZenML's ScheduleTrigger validators: exactly one cadence, an interval with a start time,
    the end after the start, and (here) a cron expression celery can parse."""
    chosen = [option for option in SCHEDULE_OPTIONS if data.get(option) is not None]
    if len(chosen) != 1:
        how = "an" if not chosen else "exactly one"
        raise invalid("cron_expression", f"You must specify {how} execution option (cron, interval, one-off).")
    if data.get("interval") is not None and data.get("start_time") is None:
        raise invalid("interval", "Interval must be set with start time.", data["interval"])
    start, end = ScheduleViewSet.time(data, "start_time"), ScheduleViewSet.time(data, "end_time")
    if start and end and end <= start:
        raise invalid("end_time", "The end time must be after the start time.", data["end_time"])
    if data.get("cron_expression") is not None:
        try:
            scheduling.parse_cron(data["cron_expression"])
        except ValueError as exc:
            raise invalid("cron_expression", str(exc), data["cron_expression"]) from None


def check_events(data) -> None:
    allowed = SOURCES[data["source_entity"]["type"]][2]
    for event in data["target_events"]:
        if event not in allowed:
            message = f"Invalid event '{event}' for source_type '{data['source_entity']['type']}'. Allowed: {allowed}"
            raise invalid("target_events", message, event)


class TriggerViewSet(ProjectScopedViewSet):
    model = Trigger
    envelope_class = TriggerEnvelope
    filterset_class = TriggerFilterSet
    label = "trigger"

    def action_name(self) -> str:
        return UPDATING.get(self.action) or super().action_name()

    def get_queryset(self):
        return super().get_queryset().filter(event__in=list(EVENTS.values()))

    def validated(self, data, schema_name):
        """The body's schema is chosen by its `type` (ZenML's discriminated union)."""
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in SCHEMAS:
            raise invalid("type", "Input tag does not match any of 'schedule', 'platform_event', 'webhook'", kind)
        validate_body(data, SCHEMAS[kind][0 if self.action == "create" else 1], self.request.path)
        if kind == "schedule":
            check_schedule(data)
        elif kind == "platform_event":
            check_events(data)
        return data

    # --- create, update, delete ------------------------------------------------------------
    def perform_create(self, data):
        project = self.project(data)
        if data["type"] == "webhook":  # MLMeta serves no /webhooks: no webhook id can be valid
            raise references.not_found("webhook", parse_uuid(data["webhook_id"], "webhook_id"))
        trigger = Trigger(
            project=project,
            user=self.request.user,
            event=EVENTS[data["type"]],
            action=TriggerAction.RUN_SNAPSHOT,
        )
        return self.apply(trigger, data)

    def perform_update(self, trigger, data):
        if trigger.is_archived:
            raise IllegalOperationError("Archived triggers can not be updated.")
        if EVENTS.get(data["type"]) != trigger.event:
            raise IllegalOperationError("A trigger can not be updated with a different trigger type.")
        return self.apply(trigger, data)

    def apply(self, trigger, data):
        """Set the trigger (and its schedule) from a request or a (whole, PUT) update."""
        for field in ("name", "active", "concurrency"):
            if field in data:
                setattr(trigger, field, data[field])
        if Trigger.objects.filter(project=trigger.project, name=trigger.name).exclude(pk=trigger.pk).exists():
            raise EntityExistsError(f"Trigger with name `{trigger.name}` already exists in this project.")
        if trigger.event == TriggerEvent.PLATFORM_EVENT:
            source = data["source_entity"]
            model, label, _ = SOURCES[source["type"]]
            target = references.resolve(self.request, model, source["id"], "source_entity", label, action="update")
            trigger.source_entity = f"{source['type']}:{target.pk}"
            trigger.target_events = " ".join(f"event:{event}" for event in data["target_events"])
            trigger.save()
            return trigger
        trigger.schedule = self.cadence(trigger, data)
        trigger.save()
        scheduling.sync(trigger.schedule, trigger)
        return trigger

    def cadence(self, trigger, data) -> Schedule:
        """The Schedule row beat fires the trigger by (ZenML's PUT replaces the whole cadence)."""
        schedule = trigger.schedule or Schedule(project=trigger.project, user=trigger.user)
        interval = data.get("interval")
        schedule.name = trigger.name
        schedule.active = trigger.active and not trigger.is_archived
        schedule.cron_expression = data.get("cron_expression")
        schedule.interval_second = timedelta(seconds=interval) if interval is not None else None
        for field in ("start_time", "end_time", "run_once_start_time"):
            setattr(schedule, field, ScheduleViewSet.time(data, field))
        schedule.max_runs = data.get("max_runs")
        schedule.concurrency = scheduling.SKIP if trigger.concurrency == "skip" else scheduling.QUEUE
        schedule.save()
        return schedule

    def perform_destroy(self, trigger):
        """`soft` (the default) archives the trigger and frees its name; otherwise it is deleted."""
        schedule = trigger.schedule
        if not bool_param(self.request, "soft", True):
            trigger.delete()
            if schedule is not None:
                scheduling.remove(schedule)
                schedule.delete()
            return
        if trigger.is_archived:
            raise IllegalOperationError(f"Trigger {trigger.pk} is already archived.")
        trigger.is_archived, trigger.active = True, False
        trigger.name = f"{trigger.name}_({str(uuid.uuid4())[:8]})"
        trigger.save()
        trigger.attachments.all().delete()
        if schedule is not None:
            Schedule.objects.filter(pk=schedule.pk).update(active=False)
            scheduling.remove(schedule)

    # --- attached snapshots ----------------------------------------------------------------
    def find_snapshot(self, raw) -> PipelineSnapshot:
        pk = parse_uuid(raw, "snapshot_id", "path")
        snapshot = references.restricted(self.request, PipelineSnapshot).filter(pk=pk).first()
        if snapshot is None:
            raise references.not_found("snapshot", pk)
        return snapshot

    @action(detail=True, methods=["put"], url_path=r"pipeline_snapshots/(?P<snapshot_id>[^/]+)")
    def attach(self, request, pk=None, snapshot_id=None):
        """Attach a named snapshot: its runs from this trigger use a snapshot derived from it with
        the body's run configuration (checked as a server-side run's overrides)."""
        trigger = self.get_object()
        snapshot = self.find_snapshot(snapshot_id)
        if snapshot.project_id != trigger.project_id:
            raise EntityNotFound(f"Snapshot {snapshot.pk} not found.")
        if not snapshot.name:
            raise IllegalOperationError("Can not attach a snapshot without name to a trigger.")
        if trigger.is_archived:
            raise IllegalOperationError(f"Can not attach snapshot {snapshot.pk} to archived trigger {trigger.pk}.")
        attached = Q(snapshot_id=snapshot.pk) | Q(snapshot__source_snapshot_id=snapshot.pk)
        replaced = list(trigger.attachments.filter(attached).values_list("pk", flat=True))
        if replaced and not bool_param(request, "allow_replace", False):
            raise IllegalOperationError(
                f"Trigger {trigger.pk} is already attached to snapshot {snapshot.pk}. To attach it with a "
                "different configuration, detach it first or use the `allow_replace` flag."
            )
        for resource_type in ("pipeline_snapshot", "pipeline_run"):
            if not rbac.can(request.user, "create", resource_type, tenant=request.tenant, project=snapshot.project):
                self.deny("attach", trigger.pk)
        overrides = launching.validate_overrides(snapshot, request.data or None)
        reason, _ = launching.refusal(snapshot)
        if reason:
            raise launching.SnapshotNotRunnable(reason)
        with transaction.atomic():
            TriggerSnapshot.objects.filter(pk__in=replaced).delete()
            executable = launching.derive_snapshot(snapshot, overrides)
            TriggerSnapshot.objects.create(trigger=trigger, snapshot=executable)
        self.changed("update", trigger, {"attached_snapshot": str(snapshot.pk)})
        return Response(None)

    @attach.mapping.delete
    def detach(self, request, pk=None, snapshot_id=None):
        trigger = self.get_object()
        snapshot = self.find_snapshot(snapshot_id)
        doomed = trigger.attachments.filter(Q(snapshot_id=snapshot.pk) | Q(snapshot__source_snapshot_id=snapshot.pk))
        if not doomed.exists():
            raise EntityNotFound(f"Snapshot {snapshot.pk} is not attached to trigger {trigger.pk}")
        doomed.delete()
        self.changed("update", trigger, {"detached_snapshot": str(snapshot.pk)})
        return Response(None)

    @action(detail=True, methods=["delete"], url_path="dispatch_state")
    def clear_dispatch_state(self, request, pk=None):
        """Forget the recorded dispatch errors of one attached snapshot (`snapshot_id`) or all."""
        trigger = self.get_object()
        attachments = list(trigger.attachments.select_related("snapshot"))
        if request.query_params.get("snapshot_id"):
            wanted = parse_uuid(request.query_params["snapshot_id"], "snapshot_id", "query")
            attachments = [a for a in attachments if a.snapshot.source_snapshot_id == wanted]
            if not attachments:
                raise EntityNotFound(f"Snapshot {wanted} is not attached to trigger {trigger.pk}")
        for attachment in attachments:
            triggers.clear_error(attachment)
        return Response(None)
