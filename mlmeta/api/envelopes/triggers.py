"""Envelope of ZenML 0.98's triggers (`/api/v1/triggers`), rendered from MLMeta's Trigger rows:
a schedule trigger's cadence comes from its Schedule row, a platform event's source and events
from ZenML's own encodings, the attached snapshots from TriggerSnapshot."""

from django.db.models import Prefetch

from core.api.timestamps import ts
from mlmeta import scheduling
from mlmeta.api.envelopes.nested import PageEnvelope, nested
from mlmeta.api.envelopes.pipelines import SNAPSHOT_HEAVY, SnapshotEnvelope
from mlmeta.api.envelopes.runs import RunEnvelope
from mlmeta.models import PipelineRun, TriggerSnapshot
from mlmeta.models.automation import TriggerEvent
from tenants.api.envelopes import nested_user

FLAVORS = {TriggerEvent.SCHEDULE: "native schedule", TriggerEvent.PLATFORM_EVENT: "platform event"}


def source_entity(trigger) -> dict | None:
    kind, _, pk = trigger.source_entity.partition(":")
    return {"type": kind, "id": pk} if pk else None


def target_events(trigger) -> list[str]:
    return [event.removeprefix("event:") for event in trigger.target_events.split()]


def schedule_fields(schedule) -> dict:
    interval = schedule.interval_second if schedule is not None else None
    return {
        "cron_expression": schedule.cron_expression if schedule else None,
        "interval": int(interval.total_seconds()) if interval is not None else None,
        "start_time": ts(schedule.start_time) if schedule else None,
        "end_time": ts(schedule.end_time) if schedule else None,
        "run_once_start_time": ts(schedule.run_once_start_time) if schedule else None,
        "max_runs": schedule.max_runs if schedule else None,
    }


class TriggerEnvelope(PageEnvelope):
    name_attr = None  # ZenML's trigger responses carry the name in the body only
    runs: dict = {}  # the page's latest runs by id, replaced (never mutated) by load()

    def load(self, triggers):
        run_ids = {a.last_run_id for t in triggers for a in t.attachments.all() if a.last_run_id}
        runs = PipelineRun.objects.filter(pk__in=run_ids) if run_ids else []
        self.runs = {run.pk: run for run in runs}

    def prime(self, objects) -> None:
        """Decide for the page's attached snapshots and latest runs whether the caller reads them."""
        if self.visibility is not None:
            attachments = [a for trigger in objects for a in trigger.attachments.all()]
            self.visibility.prime([a.snapshot for a in attachments] + [a.snapshot.source_snapshot for a in attachments])
            self.visibility.prime(self.runs.values())

    def body(self, trigger) -> dict:
        body = {
            **super().body(trigger),
            "name": trigger.name,
            "active": trigger.active,
            "type": trigger.event,
            "concurrency": trigger.concurrency,
            "is_archived": trigger.is_archived,
            "flavor": FLAVORS.get(trigger.event, trigger.event),
        }
        if trigger.event == TriggerEvent.SCHEDULE:
            running = trigger.active and not trigger.is_archived and trigger.schedule is not None
            upcoming = scheduling.next_occurrence(trigger.schedule) if running else None
            return {**body, **schedule_fields(trigger.schedule), "next_occurrence": ts(upcoming)}
        return {**body, "source_entity": source_entity(trigger), "target_events": target_events(trigger)}

    def metadata(self, trigger) -> dict:
        return {}

    def resources(self, trigger) -> dict:
        attachments = list(trigger.attachments.all())
        displayed = {a.pk: a.snapshot.source_snapshot or a.snapshot for a in attachments}
        runs = [self.runs[a.last_run_id] for a in attachments if a.last_run_id in self.runs]
        latest = max(runs, key=lambda run: run.created, default=None)
        return {
            "user": nested_user(trigger.user),
            "snapshots": [nested(SnapshotEnvelope, displayed[a.pk], self) for a in attachments],
            "executable_snapshots": [nested(SnapshotEnvelope, a.snapshot, self) for a in attachments],
            "latest_run": nested(RunEnvelope, latest, self),
            "webhook": None,
            "snapshot_dispatch_states": {
                str(displayed[a.pk].pk): a.dispatch_state for a in attachments if a.dispatch_state
            },
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        heavy = [f"snapshot__{field}" for field in SNAPSHOT_HEAVY]
        heavy += [f"snapshot__source_snapshot__{field}" for field in SNAPSHOT_HEAVY]
        attachments = TriggerSnapshot.objects.select_related("snapshot__source_snapshot").defer(*heavy)
        queryset = queryset.select_related("user", "schedule")
        return queryset.prefetch_related(Prefetch("attachments", queryset=attachments.order_by("created")))
