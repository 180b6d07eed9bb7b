"""Run comparison: the parameters and run metadata of a few runs side by side, differences
marked, and a chart of one numeric metadata key across them (Chart.js, vendored)."""

import json
import uuid

from django.db.models import Q
from django.views.generic import TemplateView

from mlmeta.choices import MetadataResourceType
from mlmeta.dashboard.base import RegistryPage
from mlmeta.models import PipelineRun, RunMetadata

MAX_RUNS = 10


def requested(params) -> list[str]:
    """Run ids or names from `ids` (repeated or comma-separated) or `run` (the runs list's checkboxes)."""
    values = []
    for raw in params.getlist("ids") + params.getlist("run"):
        values += [part.strip() for part in raw.split(",") if part.strip()]
    return list(dict.fromkeys(values))


def parameters(run) -> dict:
    """`pipeline.<name>` and `<step>.<name>` parameters from the run's snapshot."""
    snapshot = run.snapshot
    if snapshot is None:
        return {}
    found = {f"pipeline.{k}": v for k, v in (snapshot.pipeline_configuration.get("parameters") or {}).items()}
    for step, configuration in snapshot.ordered_step_configurations().items():
        config = (configuration or {}).get("config") or {}
        found |= {f"{step}.{k}": v for k, v in (config.get("parameters") or {}).items()}
    return found


def shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def table(runs, values: dict) -> list[dict]:
    """Rows of {key, cells, differs}: one cell per run (None when the run lacks the key)."""
    keys = sorted({key for per_run in values.values() for key in per_run})
    rows = []
    for key in keys:
        cells = [shown(values[run.pk][key]) if key in values[run.pk] else None for run in runs]
        rows.append({"key": key, "cells": cells, "differs": len(set(cells)) > 1})
    return rows


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RunCompareView(RegistryPage, TemplateView):
    """GET or POST `ids=<id or name>,...` (up to MAX_RUNS); `key=` picks the charted metadata key."""

    template_name = "mlmeta/run_compare.html"

    def post(self, request, *args, **kwargs):
        return self.get(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        params = request.POST if request.method == "POST" else request.GET
        wanted = requested(params)
        context = self.get_context_data(wanted=wanted, key=params.get("key", ""))
        return self.render_to_response(context, status=400 if context["problems"] else 200)

    def get_context_data(self, wanted=(), key="", **kwargs):
        context = super().get_context_data(**kwargs)
        problems = [f"Compare at most {MAX_RUNS} runs."] if len(wanted) > MAX_RUNS else []
        runs = self.find(wanted[:MAX_RUNS], problems)
        metadata = self.metadata(runs)
        chart_keys = sorted({k for per_run in metadata.values() for k, v in per_run.items() if is_number(v)})
        key = key if key in chart_keys else (chart_keys[0] if chart_keys else "")
        context.update(
            runs=runs,
            problems=problems,
            wanted=", ".join(wanted),
            parameter_rows=table(runs, {run.pk: parameters(run) for run in runs}),
            metadata_rows=table(runs, metadata),
            chart_keys=chart_keys,
            key=key,
            chart={
                "key": key,
                "labels": [run.name for run in runs],
                "values": [metadata[run.pk].get(key) if is_number(metadata[run.pk].get(key)) else None for run in runs],
            },
        )
        return context

    def find(self, wanted: list[str], problems: list[str]) -> list:
        """The runs, in the order asked; unknown ids or names become problems."""
        ids = [value for value in wanted if _is_uuid(value)]
        names = [value for value in wanted if not _is_uuid(value)]
        found = self.restrict(PipelineRun).filter(Q(pk__in=ids) | Q(name__in=names))
        found = found.select_related("pipeline", "snapshot")[: MAX_RUNS * 2]
        by_key = {str(run.pk): run for run in found} | {run.name: run for run in found}
        runs = []
        for value in wanted:
            run = by_key.get(value)
            if run is None:
                problems.append(f"No run “{value}” in this tenant that you may read.")
            elif run not in runs:
                runs.append(run)
        return runs

    def metadata(self, runs) -> dict:
        """{run id: {key: value}}; the newest value of a key wins, as ZenML's run metadata does."""
        values = {run.pk: {} for run in runs}
        rows = self.restrict(RunMetadata).filter(
            resource_type=MetadataResourceType.PIPELINE_RUN, resource_id__in=list(values)
        )
        for row in rows.order_by("created").values("resource_id", "key", "value"):
            values[row["resource_id"]][row["key"]] = row["value"]
        return values


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
