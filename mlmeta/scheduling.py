"""Native schedules on celery beat: each active schedule with a snapshot owns one
django-celery-beat PeriodicTask (kept in sync here, called by the API, admin and dashboard) that
sends `mlmeta.fire_schedule(schedule_id)`. Firing applies start/end, maximum runs and the
concurrency policy, claims the tick atomically (a redelivered tick never launches twice) and
launches the snapshot as the schedule's owner, whose permission is re-checked. A schedule that
backs a ZenML schedule trigger runs that trigger's attached snapshots instead (mlmeta.triggers)."""

import json
import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask

from core.api.exceptions import ZenError
from mlmeta.choices import ExecutionStatus
from mlmeta.models import PipelineRun, PipelineSnapshot, Schedule
from tenants import rbac

logger = logging.getLogger(__name__)

TASK_NAME = "mlmeta.fire_schedule"
SKIP, QUEUE = "skip", "queue"


def periodic_task_name(schedule) -> str:
    return f"mlmeta.schedule.{schedule.pk}"


def parse_cron(expression: str) -> dict:
    """The five fields of a cron expression as CrontabSchedule keywords; ValueError when malformed."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise ValueError("A cron expression has five fields: minute hour day-of-month month day-of-week.")
    from celery.schedules import crontab

    kwargs = dict(zip(("minute", "hour", "day_of_month", "month_of_year", "day_of_week"), fields, strict=True))
    try:
        crontab(**kwargs)
    except Exception as exc:  # celery raises ValueError/ParseException subclasses
        raise ValueError(f"Invalid cron expression: {exc}") from None
    return kwargs


def backed_trigger(schedule):
    """The ZenML schedule trigger this schedule is the cadence of, if any."""
    from mlmeta.models import Trigger

    return Trigger.objects.filter(schedule_id=schedule.pk).first() if schedule.pk else None


def is_once(schedule) -> bool:
    return bool(schedule.run_once_start_time and not (schedule.cron_expression or schedule.interval_second))


def is_native(schedule, trigger=None) -> bool:
    """Whether beat should fire this schedule: active, not archived, with a snapshot (or backing a
    trigger) and a cadence; a run-once schedule until it ran."""
    cadence = schedule.cron_expression or schedule.interval_second or (is_once(schedule) and not schedule.run_count)
    target = schedule.snapshot_id or (trigger or backed_trigger(schedule)) is not None
    return bool(schedule.active and not schedule.is_archived and target and cadence)


def cadence_of(schedule) -> dict:
    """The PeriodicTask's schedule: a crontab, an interval or (run once) a clocked time."""
    cadence = {"interval": None, "crontab": None, "clocked": None, "one_off": False}
    if schedule.cron_expression:
        cadence["crontab"], _ = CrontabSchedule.objects.get_or_create(
            **parse_cron(schedule.cron_expression), timezone="UTC"
        )
    elif schedule.interval_second:
        seconds = max(1, int(schedule.interval_second.total_seconds()))
        cadence["interval"], _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    else:
        cadence["clocked"], _ = ClockedSchedule.objects.get_or_create(clocked_time=schedule.run_once_start_time)
        cadence["one_off"] = True
    return cadence


def sync(schedule, trigger=None) -> PeriodicTask | None:
    """Create, update or remove the schedule's PeriodicTask to match the row."""
    name = periodic_task_name(schedule)
    if not is_native(schedule, trigger):
        PeriodicTask.objects.filter(name=name).delete()
        return None
    task, _ = PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            **cadence_of(schedule),
            "task": TASK_NAME,
            "args": json.dumps([str(schedule.pk)]),
            "kwargs": "{}",
            "enabled": True,
            "start_time": schedule.start_time,
            # The end time is applied by fire() (which turns the schedule off), not as the
            # PeriodicTask's `expires`: beat stops sending an expiring entry altogether.
            "expires": None,
            "description": f"MLMeta schedule {schedule.name}",
        },
    )
    return task


def remove(schedule) -> None:
    PeriodicTask.objects.filter(name=periodic_task_name(schedule)).delete()


def deactivate(schedule, reason: str) -> None:
    """Turn the schedule off (ended or out of runs) and drop its PeriodicTask."""
    Schedule.objects.filter(pk=schedule.pk).update(active=False, updated=timezone.now())
    schedule.active = False
    remove(schedule)
    logger.info("Schedule %s deactivated: %s", schedule.pk, reason)


def owner_may_run(schedule) -> bool:
    """The owner still reads the snapshot and may create runs in its project (tenants.rbac)."""
    user = schedule.user
    if user is None or not user.is_active:
        return False
    readable = PipelineSnapshot.objects.restrict(user, "read").filter(pk=schedule.snapshot_id).exists()
    return readable and rbac.can(user, "create", "pipeline_run", tenant=schedule.tenant, project=schedule.project)


def previous_run_active(schedule) -> bool:
    if not schedule.last_run_id:
        return False
    return PipelineRun.objects.filter(pk=schedule.last_run_id).exclude(status__in=ExecutionStatus.finished()).exists()


def fire(schedule_id, tick_id: str, now=None) -> str:
    """One beat tick for a schedule; returns the outcome (launched:<run id>, skipped, ...)."""
    now = now or timezone.now()
    schedule = Schedule.objects.select_related("snapshot", "user", "tenant", "project").filter(pk=schedule_id).first()
    trigger = backed_trigger(schedule) if schedule is not None else None
    if schedule is None or not is_native(schedule, trigger):
        if schedule is not None:
            remove(schedule)
        return "inactive"
    if schedule.end_time and now >= schedule.end_time:
        deactivate(schedule, "end time reached")
        return "ended"
    if schedule.start_time and now < schedule.start_time:
        return "not started"
    if schedule.max_runs is not None and schedule.run_count >= schedule.max_runs:
        deactivate(schedule, "maximum runs reached")
        return "max runs"
    if trigger is not None:
        return fire_trigger(schedule, trigger, tick_id, now)
    if not owner_may_run(schedule):
        logger.warning("Schedule %s: its owner may no longer run snapshot %s", schedule.pk, schedule.snapshot_id)
        return "forbidden"
    if schedule.concurrency == SKIP and previous_run_active(schedule):
        return "skipped"
    return claim_and_launch(schedule, tick_id, now)


def claim_and_launch(schedule, tick_id: str, now) -> str:
    """Claim the tick (an atomic update keyed on the run count and the tick id) and launch in the
    same transaction: a crash before commit leaves the tick unclaimed for its redelivery."""
    from mlmeta.launching import launch_snapshot

    with transaction.atomic():
        if not claim_tick(schedule, tick_id, now):
            return "duplicate"
        try:
            run = launch_snapshot(
                schedule.snapshot, user=schedule.user, trigger={"type": "schedule", "id": str(schedule.pk)}
            )
        except ZenError as exc:  # not runnable (no stack, no runner, forbidden): nothing claimed
            transaction.set_rollback(True)
            logger.warning("Schedule %s could not launch its snapshot: %s", schedule.pk, exc)
            return f"refused: {exc}"
        Schedule.objects.filter(pk=schedule.pk).update(last_run_id=run.pk)
    after_tick(schedule)
    return f"launched:{run.pk}"


def claim_tick(schedule, tick_id: str, now) -> bool:
    """One atomic update keyed on the run count and the tick id: a redelivered tick claims nothing."""
    limit = Q() if schedule.max_runs is None else Q(run_count__lt=schedule.max_runs)
    return bool(
        Schedule.objects.filter(limit, pk=schedule.pk, run_count=schedule.run_count)
        .exclude(last_tick_id=tick_id)
        .update(run_count=F("run_count") + 1, last_tick=now, last_tick_id=tick_id)
    )


def after_tick(schedule) -> None:
    """A schedule out of runs (its maximum, or its one run) stops."""
    if is_once(schedule) or (schedule.max_runs is not None and schedule.run_count + 1 >= schedule.max_runs):
        schedule.refresh_from_db()
        deactivate(schedule, "maximum runs reached")


def fire_trigger(schedule, trigger, tick_id: str, now) -> str:
    """A tick of a ZenML schedule trigger: claimed like any tick, then each attached snapshot runs
    (mlmeta.triggers.run_attachments applies the trigger's concurrency and records the outcome)."""
    from mlmeta import triggers

    with transaction.atomic():
        if not claim_tick(schedule, tick_id, now):
            return "duplicate"
        dispatches = triggers.run_attachments(trigger, f"tick:{tick_id}", {"event": "schedule", "at": now.isoformat()})
    after_tick(schedule)
    return "dispatched:" + ",".join(d.status for d in dispatches)


def next_occurrence(schedule, now=None):
    """When beat fires the schedule next (None when it will not)."""
    now = now or timezone.now()
    if not (schedule.active and not schedule.is_archived) or (schedule.end_time and now >= schedule.end_time):
        return None
    start = schedule.start_time
    if schedule.cron_expression:
        from celery.schedules import crontab

        after = max(now, start) if start else now
        last, forward, _ = crontab(**parse_cron(schedule.cron_expression)).remaining_delta(after)
        return last + forward
    if schedule.interval_second:
        if start is None or now < start:
            return start or now
        elapsed = (now - start) // schedule.interval_second + 1
        return start + elapsed * schedule.interval_second
    if is_once(schedule) and not schedule.run_count:
        return schedule.run_once_start_time
    return None
