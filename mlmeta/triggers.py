"""Triggers: events (a run of a pipeline completed or failed, a model version promoted, an
inbound webhook) → run a snapshot as the trigger's owner or POST the event to a webhook signed
with HMAC-SHA256. Events are hooked on model saves and dispatched on commit through the Celery
task `mlmeta.dispatch_trigger` (ids only); each dispatch is one TriggerDispatch row, unique per
(trigger, event key), so a redelivered task or a repeated save never acts twice."""

import hashlib
import hmac
import json
import logging
import secrets

import requests
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.api.exceptions import ZenError
from mlmeta.choices import ExecutionStatus
from mlmeta.models import PipelineSnapshot
from mlmeta.models.automation import (
    Trigger,
    TriggerAction,
    TriggerConcurrency,
    TriggerDispatch,
    TriggerEvent,
    TriggerSnapshot,
)
from tenants import crypto, rbac

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MLMeta-Signature"
GITHUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
WEBHOOK_TIMEOUT = 10
RUN_EVENTS = {ExecutionStatus.COMPLETED: TriggerEvent.RUN_COMPLETED, ExecutionStatus.FAILED: TriggerEvent.RUN_FAILED}


# Secrets and signatures ---------------------------------------------------------------------


def new_secret(trigger) -> str:
    """Give the trigger a fresh secret, stored sealed; returns the plaintext (shown once)."""
    secret = secrets.token_urlsafe(32)
    trigger.secret_sealed = crypto.seal(secret)
    return secret


def secret_of(trigger) -> bytes:
    return crypto.open_(trigger.secret_sealed).encode() if trigger.secret_sealed else b""


def sign(secret: bytes, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`, the format of GitHub and of X-MLMeta-Signature."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the body's signature under `secret` (constant-time comparison)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


# Event hooks (model saves) --------------------------------------------------------------------


def enqueue(trigger_ids, event_key: str, event: dict) -> None:
    """Send one dispatch task per trigger once the current transaction commits."""
    from mlmeta.automation_tasks import dispatch_trigger

    for trigger_id in trigger_ids:
        transaction.on_commit(lambda tid=str(trigger_id): dispatch_trigger.delay(tid, event_key, event))


def platform_events(run, event) -> Q:
    """ZenML platform-event triggers watching this run: its pipeline's or its snapshot's
    `run_completed`/`run_failed`, or the run's own `completed`/`failed`."""
    snapshots = [f"pipeline_snapshot:{pk}" for pk in (run.snapshot_id, run.source_snapshot_id) if pk]
    by_run_of = Q(source_entity__in=[f"pipeline:{run.pipeline_id}", *snapshots])
    return Q(event=TriggerEvent.PLATFORM_EVENT, is_archived=False) & (
        (by_run_of & Q(target_events__contains=f"event:{event.value}"))
        | Q(source_entity=f"pipeline_run:{run.pk}", target_events__contains=f"event:{run.status}")
    )


def run_status_changed(run) -> None:
    """A run reached `completed` or `failed`: the triggers watching its pipeline fire."""
    event = RUN_EVENTS.get(run.status)
    if event is None or not run.pipeline_id:
        return
    watching = Q(event=event, pipeline_id=run.pipeline_id) | platform_events(run, event)
    ids = list(Trigger.objects.filter(watching, active=True).values_list("pk", flat=True))
    # A run started by a trigger never fires that same trigger again (no self-sustaining loop).
    launched_by = ((getattr(run, "launch", None) or {}).get("trigger") or {}).get("id")
    ids = [pk for pk in ids if str(pk) != launched_by]
    if ids:
        payload = {
            "event": event.value,
            "run_id": str(run.pk),
            "pipeline_id": str(run.pipeline_id),
            "status": run.status,
        }
        enqueue(ids, f"run:{run.pk}:{run.status}", payload)


def model_version_promoted(version, previous_stage) -> None:
    """A model version moved to a stage: the triggers on its model (and that stage, if set) fire."""
    if not version.stage or version.stage == previous_stage:
        return
    triggers = Trigger.objects.filter(active=True, event=TriggerEvent.MODEL_PROMOTED, model_id=version.model_id)
    ids = [pk for pk, stage in triggers.values_list("pk", "stage") if not stage or stage == version.stage]
    if ids:
        payload = {
            "event": TriggerEvent.MODEL_PROMOTED.value,
            "model_id": str(version.model_id),
            "model_version_id": str(version.pk),
            "model_version": version.name,
            "stage": version.stage,
            "previous_stage": previous_stage,
        }
        enqueue(ids, f"model_version:{version.pk}:{version.stage}:{timezone.now().isoformat()}", payload)


def on_run_saved(sender, instance, created, update_fields=None, **kwargs):
    if created or update_fields is None or "status" in update_fields:
        run_status_changed(instance)


def on_model_version_init(sender, instance, **kwargs):
    instance._stage_at_load = instance.__dict__.get("stage")


def on_model_version_saved(sender, instance, created, update_fields=None, **kwargs):
    previous = None if created else getattr(instance, "_stage_at_load", None)
    if created or update_fields is None or "stage" in update_fields:
        model_version_promoted(instance, previous)
    instance._stage_at_load = instance.stage


def connect() -> None:
    from django.db.models.signals import post_init, post_save

    from mlmeta.models import ModelVersion, PipelineRun

    post_save.connect(on_run_saved, sender=PipelineRun, dispatch_uid="mlmeta.triggers.run")
    post_init.connect(on_model_version_init, sender=ModelVersion, dispatch_uid="mlmeta.triggers.mv_init")
    post_save.connect(on_model_version_saved, sender=ModelVersion, dispatch_uid="mlmeta.triggers.mv")


# Dispatching (in the worker) ------------------------------------------------------------------


def claim(trigger, event_key: str, event: dict) -> TriggerDispatch | None:
    """The dispatch row for this event, or None when it was already handled (redelivery)."""
    try:
        with transaction.atomic():
            return TriggerDispatch.objects.create(trigger=trigger, event_key=event_key[:255], event=event)
    except IntegrityError:
        existing = TriggerDispatch.objects.get(trigger=trigger, event_key=event_key[:255])
        return existing if existing.status == "pending" else None


def finish(dispatch, status: str, **fields) -> TriggerDispatch:
    for name, value in {"status": status, **fields}.items():
        setattr(dispatch, name, value)
    dispatch.save()
    return dispatch


def owner_may_run(trigger, snapshot_id=None) -> bool:
    user, snapshot_id = trigger.user, snapshot_id or trigger.snapshot_id
    if user is None or not user.is_active or snapshot_id is None:
        return False
    readable = PipelineSnapshot.objects.restrict(user, "read").filter(pk=snapshot_id).exists()
    return readable and rbac.can(user, "create", "pipeline_run", tenant=trigger.tenant, project=trigger.project)


def run_snapshot(trigger, dispatch) -> TriggerDispatch:
    """Launch the trigger's snapshot as its owner; the run is created with the dispatch's outcome."""
    from mlmeta.launching import launch_snapshot

    if not owner_may_run(trigger):
        return finish(dispatch, "failed", error="The trigger's owner may not run its snapshot.")
    try:
        with transaction.atomic():
            run = launch_snapshot(
                trigger.snapshot, user=trigger.user, trigger={"type": "trigger", "id": str(trigger.pk)}
            )
            return finish(dispatch, "succeeded", run_id=run.pk, error="")
    except ZenError as exc:  # the snapshot cannot run (no stack, no runner, bad config)
        return finish(dispatch, "failed", error=str(exc)[:2000])


def call_webhook(trigger, dispatch) -> TriggerDispatch:
    """POST the event as JSON, signed with the trigger's secret; a non-2xx answer is a failure.
    Connection errors propagate so the task retries with backoff."""
    body = json.dumps(
        {"trigger_id": str(trigger.pk), "dispatch_id": str(dispatch.pk), **dispatch.event}, sort_keys=True
    ).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret_of(trigger), body),
        "X-MLMeta-Event": dispatch.event.get("event", ""),
        "X-MLMeta-Delivery": str(dispatch.pk),
    }
    response = requests.post(trigger.webhook_url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT)
    status = "succeeded" if 200 <= response.status_code < 300 else "failed"
    error = "" if status == "succeeded" else f"HTTP {response.status_code}: {response.text[:500]}"
    return finish(dispatch, status, response_code=response.status_code, error=error)


def dispatch(trigger_id, event_key: str, event: dict) -> TriggerDispatch | None:
    """Act on one event for one trigger, at most once per (trigger, event key); a ZenML
    platform-event trigger runs each of its attached snapshots (the last dispatch is returned)."""
    trigger = Trigger.objects.select_related("snapshot", "user", "tenant", "project").filter(pk=trigger_id).first()
    if trigger is None:
        return None
    if trigger.event == TriggerEvent.PLATFORM_EVENT:
        dispatches = run_attachments(trigger, event_key, event) if trigger.active and not trigger.is_archived else []
        return dispatches[-1] if dispatches else None
    record = claim(trigger, event_key, event)
    if record is None:
        return None
    if not trigger.active:
        return finish(record, "skipped", error="The trigger is inactive.")
    if trigger.action == TriggerAction.RUN_SNAPSHOT:
        return run_snapshot(trigger, record)
    return call_webhook(trigger, record)


# ZenML triggers: attached snapshots and their dispatch state -------------------------------------


def record_state(attachment, status: str, error: str = "", error_type: str = "", details=None) -> None:
    """Store ZenML's TriggerSnapshotDispatchState of the latest dispatch on the attachment: the
    status, and for errors the message and how many times in a row this error type occurred."""
    now = timezone.now().isoformat()
    state = dict(attachment.dispatch_state or {})
    if status == "ERROR":
        repeated = state.get("last_status") == "ERROR" and state.get("last_error_type") == error_type
        state.update(
            last_error_message=error[:4096],
            last_error_type=error_type[:255],
            last_error_severity="Major",
            last_error_stack_trace=None,
            last_error_at=now,
            first_error_at=state.get("first_error_at") if repeated else now,
            last_error_count=(state.get("last_error_count") or 0) + 1 if repeated else 1,
        )
    state.setdefault("last_error_count", 0)
    state.update(last_status=status, last_status_at=now, last_status_details=details)
    attachment.dispatch_state = state
    TriggerSnapshot.objects.filter(pk=attachment.pk).update(dispatch_state=state)


def clear_error(attachment) -> None:
    """Forget the latest error (an ERROR state altogether, as the real server does)."""
    state = attachment.dispatch_state
    if not state:
        return
    if state.get("last_status") == "ERROR":
        state = None
    else:
        error_fields = ("message", "type", "severity", "stack_trace", "at")
        state = {**state, **{f"last_error_{name}": None for name in error_fields}}
        state.update(first_error_at=None, last_error_count=0)
    TriggerSnapshot.objects.filter(pk=attachment.pk).update(dispatch_state=state)


def attachment_busy(attachment) -> bool:
    """The previous run this trigger started of this snapshot is unfinished."""
    from mlmeta.models import PipelineRun

    if not attachment.last_run_id:
        return False
    unfinished = PipelineRun.objects.filter(pk=attachment.last_run_id).exclude(status__in=ExecutionStatus.finished())
    return unfinished.exists()


def run_attachment(trigger, attachment, record) -> TriggerDispatch:
    """Launch one attached snapshot as the trigger's owner, unless the concurrency policy skips it."""
    from mlmeta.launching import launch_snapshot

    if trigger.concurrency == TriggerConcurrency.SKIP and attachment_busy(attachment):
        record_state(attachment, "SKIPPED_CONCURRENCY", details={"run_id": str(attachment.last_run_id)})
        return finish(record, "skipped", error="The previous run of this snapshot is unfinished.")
    if not owner_may_run(trigger, attachment.snapshot_id):
        message = "The trigger's owner may not run this snapshot."
        record_state(attachment, "ERROR", message, "IllegalOperationError")
        return finish(record, "failed", error=message)
    try:
        with transaction.atomic():
            run = launch_snapshot(
                attachment.snapshot, user=trigger.user, trigger={"type": "trigger", "id": str(trigger.pk)}
            )
            TriggerSnapshot.objects.filter(pk=attachment.pk).update(last_run_id=run.pk)
            record_state(attachment, "SUCCESS", details={"run_id": str(run.pk)})
            return finish(record, "succeeded", run_id=run.pk, error="")
    except ZenError as exc:  # the snapshot cannot run (no stack, no runner, bad config)
        record_state(attachment, "ERROR", str(exc), exc.error_class)
        return finish(record, "failed", error=str(exc)[:2000])


def run_attachments(trigger, event_key: str, event: dict) -> list[TriggerDispatch]:
    """Run each snapshot attached to a ZenML trigger, at most once per (event, snapshot)."""
    dispatches = []
    attachments = trigger.attachments.select_related("snapshot__project", "snapshot__pipeline", "snapshot__stack")
    for attachment in attachments:
        record = claim(trigger, f"{event_key}|{attachment.snapshot_id}", event)
        if record is not None:
            dispatches.append(run_attachment(trigger, attachment, record))
    return dispatches
