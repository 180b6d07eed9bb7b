"""Celery tasks of schedules and triggers (ids only; acks_late and the time limits come from
settings). Both are idempotent: a tick is claimed on the schedule row, a dispatch is unique per
(trigger, event key)."""

import requests
from celery import shared_task

from mlmeta import scheduling, triggers


@shared_task(name="mlmeta.fire_schedule", bind=True)
def fire_schedule(self, schedule_id: str) -> str:
    """One beat tick of a native schedule; the task id identifies the tick across redeliveries."""
    return scheduling.fire(schedule_id, tick_id=self.request.id or "")


@shared_task(
    name="mlmeta.dispatch_trigger",
    autoretry_for=(requests.ConnectionError, requests.Timeout),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def dispatch_trigger(trigger_id: str, event_key: str, event: dict) -> str:
    """Run a trigger's action for one event; returns the dispatch's status."""
    record = triggers.dispatch(trigger_id, event_key, event)
    return record.status if record else "duplicate"
