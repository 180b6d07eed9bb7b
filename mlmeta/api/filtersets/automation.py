from django.db.models import Q

from core.api.filters import ZenFilter, _to_bool
from core.api.validation import invalid
from mlmeta.api.filtersets.base import ProjectScopedFilterSet
from mlmeta.models.automation import TriggerEvent

TYPES = {"schedule": TriggerEvent.SCHEDULE, "platform_event": TriggerEvent.PLATFORM_EVENT, "webhook": None}
FLAVORS = {"native schedule": "schedule", "platform event": "platform_event", "webhook": "webhook"}


def events(mapping):
    """A `type=` / `flavor=` filter: ZenML's names of the trigger kinds (webhook triggers: none here)."""

    def condition(operator, value):
        values = value if isinstance(value, list) else [value]
        return Q(event__in=[TYPES[mapping.get(v, v)] for v in values if TYPES[mapping.get(v, v)]])

    return condition


def attached(field: str):
    def condition(operator, value):
        values = value if isinstance(value, list) else [value]
        return Q(**{f"attachments__snapshot__{field}__in": values})

    return condition


def attached_snapshot(operator, value):
    values = value if isinstance(value, list) else [value]
    return Q(attachments__snapshot_id__in=values) | Q(attachments__snapshot__source_snapshot_id__in=values)


class TriggerFilterSet(ProjectScopedFilterSet):
    name = ZenFilter("name")
    active = ZenFilter("active", kind="bool")
    type = ZenFilter("event", choices=tuple(TYPES), q=events({}))
    flavor = ZenFilter("event", choices=tuple(FLAVORS), q=events(FLAVORS))
    concurrency = ZenFilter("concurrency", choices=("skip", "submit"))
    webhook_id = ZenFilter("id", kind="uuid", q=lambda operator, value: Q(pk__in=[]))
    pipeline_id = ZenFilter("attachments__snapshot__pipeline_id", kind="uuid", q=attached("pipeline_id"))
    snapshot_id = ZenFilter("attachments__snapshot_id", kind="uuid", q=attached_snapshot)

    sort_fields = ("created", "updated", "id", "name")

    def filter_queryset(self, queryset):
        """`is_archived` is false unless asked for (ZenML applies it whatever the logical operator)."""
        raw = self.data.get("is_archived")
        try:
            archived = False if raw in (None, "") else _to_bool(raw)
        except ValueError:
            raise invalid("is_archived", "Input should be a valid boolean", raw, "query") from None
        queryset = super().filter_queryset(queryset.filter(is_archived=archived))
        joined = any(name in self.data for name in ("pipeline_id", "snapshot_id"))
        return queryset.distinct() if joined else queryset
