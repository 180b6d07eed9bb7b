"""Log records: the client registers each log file (with an id it generated) and later attaches
it to the run or step it belongs to. Runs and steps also take them inline."""

import uuid

from rest_framework.response import Response

from core.api.exceptions import EntityNotFound
from core.api.validation import invalid, parse_uuid
from mlmeta import artifact_files
from mlmeta.api import references
from mlmeta.api.envelopes.runs import LogsEnvelope
from mlmeta.api.views.scoped import ProjectScopedViewSet
from mlmeta.models import Logs, PipelineRun, StackComponent, StepRun


def create_logs(request, data: dict, project=None, pipeline_run=None, step_run=None) -> Logs:
    """A `LogsRequest` body as a row; the run or step comes from the caller or the body's ids."""
    pipeline_run = pipeline_run or references.resolve(
        request, PipelineRun, data.get("pipeline_run_id"), "pipeline_run_id", "pipeline run"
    )
    step_run = step_run or references.resolve(request, StepRun, data.get("step_run_id"), "step_run_id", "step run")
    if project is None and data.get("project"):
        project = references.resolve_project(request, data["project"])
    project = project or getattr(pipeline_run or step_run, "project", None)
    if project is None:
        raise invalid("project", "A log record needs a project, a run or a step", data.get("project"))
    return Logs.objects.create(
        id=parse_uuid(data.get("id"), "id") or uuid.uuid4(),
        project=project,
        user=request.user,
        uri=data.get("uri"),
        source=data.get("source") or "",
        artifact_store=_component(request, data, "artifact_store_id"),
        log_store=_component(request, data, "log_store_id"),
        pipeline_run=pipeline_run,
        step_run=step_run,
        hook_invocation_id=parse_uuid(data.get("hook_invocation_id"), "hook_invocation_id"),
    )


def _component(request, data, field):
    return references.resolve(request, StackComponent, data.get(field), field, "stack component")


def attach_logs(request, value, project, pipeline_run=None, step_run=None) -> Logs | None:
    """`logs` of a run or step request: the id of a registered log record, or a new one inline."""
    if value is None:
        return None
    if isinstance(value, dict):
        return create_logs(request, value, project, pipeline_run, step_run)
    logs = references.resolve(request, Logs, value, "logs", "logs")
    logs.pipeline_run = pipeline_run or logs.pipeline_run
    logs.step_run = step_run or logs.step_run
    logs.save(update_fields=["pipeline_run", "step_run", "updated"])
    return logs


def entries_response(request, log_records):
    """`GET .../logs?source=|logs_id=`: the entries of the chosen log record."""
    source, logs_id = request.query_params.get("source"), request.query_params.get("logs_id")
    if source and logs_id:
        raise invalid("source", "Give either `source` or `logs_id`, not both", source, "query")
    records = list(log_records)
    if logs_id:
        records = [r for r in records if r.pk == parse_uuid(logs_id, "logs_id", "query")]
    elif source:
        records = [r for r in records if r.source == source]
    if not records:
        raise EntityNotFound(f"No logs found for source `{source}` or id `{logs_id}`.")
    return Response(artifact_files.log_entries(records[0]))


class LogsViewSet(ProjectScopedViewSet):
    model = Logs
    envelope_class = LogsEnvelope
    create_schema = "LogsRequest"
    update_schema = "LogsUpdate"
    label = "logs"
    unique_message = "Logs with this ID already exist."

    def perform_create(self, data):
        return create_logs(self.request, data)

    def perform_update(self, logs, data):
        if data.get("pipeline_run_id"):
            logs.pipeline_run = references.resolve(
                self.request, PipelineRun, data["pipeline_run_id"], "pipeline_run_id", "pipeline run"
            )
        if data.get("step_run_id"):
            logs.step_run = references.resolve(self.request, StepRun, data["step_run_id"], "step_run_id", "step run")
        logs.save()
        return logs

    def entries(self, request, *args, **kwargs):
        """`GET /logs/{id}/entries`; MLMeta returns every entry at once (no cursors)."""
        items = artifact_files.log_entries(self.get_object())
        return Response({"items": items, "before": None, "after": None})
