"""`POST /runs/statistics`: runs matching a run filter, grouped by some dimensions, with
aggregates per group (ZenML's RunStatisticsRequest/Response)."""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.datastructures import MultiValueDict

from core.api.timestamps import ts
from core.api.validation import invalid
from mlmeta.api.envelopes.common import run_metadata_by_resource
from mlmeta.api.filtersets.runs import RunFilterSet
from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import StepRun, StepRunOutput, TagResource

COLUMNS = {
    "status": "status",
    "pipeline": "pipeline_id",
    "snapshot": "snapshot_id",
    "source_snapshot": "source_snapshot_id",
    "stack": "stack_id",
    "user": "user_id",
}
AGGREGATES = {"avg": lambda xs: sum(xs) / len(xs), "sum": sum, "min": min, "max": max}


def _filter_params(filters: dict) -> MultiValueDict:
    params = MultiValueDict()
    for key, value in (filters or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                params.appendlist(key, str(item))
    return params


def _count(queryset, group: str) -> Coalesce:
    """A correlated COUNT(*) of `queryset` (already filtered on the outer run) per `group`."""
    counted = queryset.order_by().values(group).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted[:1], output_field=IntegerField()), Value(0))


def _rows(request, queryset, filters) -> list[dict]:
    runs = RunFilterSet(_filter_params(filters), queryset=queryset, request=request).qs
    steps = StepRun.objects.filter(pipeline_run=OuterRef("pk"))
    outputs = StepRunOutput.objects.filter(step_run__pipeline_run=OuterRef("pk"))
    runs = runs.annotate(
        step_count=_count(steps, "pipeline_run"),
        cached_step_count=_count(steps.filter(status=ExecutionStatus.CACHED), "pipeline_run"),
        output_artifact_count=_count(outputs, "step_run__pipeline_run"),
    )
    fields = ("id", "start_time", "end_time", "created", "step_count", "cached_step_count", "output_artifact_count")
    return list(runs.values(*fields, *COLUMNS.values()))


def _bucket(moment, granularity: str) -> str | None:
    if moment is None:
        return None
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if granularity != "hour":
        moment = moment.replace(hour=0)
    if granularity == "week":
        moment -= timedelta(days=moment.weekday())
    if granularity == "month":
        moment = moment.replace(day=1)
    return ts(moment)


def _keys(row, grouping, tags, metadata) -> list:
    """The group key values of one run for one grouping (several for tags)."""
    kind = grouping["type"]
    if kind in COLUMNS:
        value = row[COLUMNS[kind]]
        return [None if value is None else str(value)]
    if kind == "time":
        return [_bucket(row["start_time"] or row["created"], grouping["granularity"])]
    if kind == "metadata":
        return [metadata.get(row["id"], {}).get(grouping["metadata_key"])]
    if kind == "tag":
        return tags.get(row["id"]) or [None]
    return [None]  # trigger: MLMeta has no triggers


def _value(row, metric, metadata):
    source = metric["source"]
    if source == "duration":
        if row["start_time"] and row["end_time"]:
            return (row["end_time"] - row["start_time"]).total_seconds()
        return None
    if source == "metadata":
        value = metadata.get(row["id"], {}).get(metric["metadata_key"])
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    return row[source]


def _check_names(data) -> None:
    for part in ("groupings", "metrics"):
        names = [item["name"] for item in data.get(part) or []]
        if len(names) != len(set(names)):
            raise invalid(part, f"Duplicate {part[:-1]} names are not allowed.", names)
    if sum(1 for g in data.get("groupings") or [] if g["type"] == "time") > 1:
        raise invalid("groupings", "At most one time grouping is allowed.", data.get("groupings"))


def _groups(rows, groupings, tags, metadata) -> dict:
    groups = defaultdict(list)
    for row in rows:
        combos = [()]
        for grouping in groupings:
            combos = [(*combo, key) for combo in combos for key in _keys(row, grouping, tags, metadata)]
        for combo in set(combos):
            groups[combo].append(row)
    return groups


def run_statistics(request, queryset, data: dict) -> dict:
    _check_names(data)
    groupings, metrics = data.get("groupings") or [], data.get("metrics") or []
    rows = _rows(request, queryset, data.get("filter"))
    ids = [row["id"] for row in rows]
    needs_metadata = any(g["type"] == "metadata" for g in groupings) or any(m["source"] == "metadata" for m in metrics)
    metadata = run_metadata_by_resource(MetadataResourceType.PIPELINE_RUN, ids) if needs_metadata else {}
    tags = defaultdict(list)
    if any(g["type"] == "tag" for g in groupings):
        links = TagResource.objects.filter(resource_type=TaggableResourceType.PIPELINE_RUN, resource_id__in=ids)
        for run_id, name in links.values_list("resource_id", "tag__name"):
            tags[run_id].append(name)
    groups = _groups(rows, groupings, tags, metadata) if groupings else {(): rows}
    result = [_group(groupings, metrics, combo, members, metadata) for combo, members in groups.items()]
    _order(result, groupings)
    max_groups = data.get("max_groups") or 1000
    return {"groups": result[:max_groups], "truncated": len(result) > max_groups}


def _order(result, groupings) -> None:
    """By time bucket (oldest first) when grouped by time, else by run count (largest first)."""
    time = next((g["name"] for g in groupings if g["type"] == "time"), None)
    if time is None:
        result.sort(key=lambda group: -group["run_count"])
    else:
        result.sort(key=lambda group: (group["group_keys"][time] is None, group["group_keys"][time] or ""))


def _group(groupings, metrics, combo, members, metadata) -> dict:
    values = {}
    for metric in metrics:
        found = [v for v in (_value(row, metric, metadata) for row in members) if v is not None]
        values[metric["name"]] = float(AGGREGATES[metric["aggregation"]](found)) if found else None
    keys = {grouping["name"]: key for grouping, key in zip(groupings, combo, strict=True)}
    return {"group_keys": keys, "metrics": values, "run_count": len({row["id"] for row in members})}
