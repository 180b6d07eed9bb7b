"""Step runs: created and updated by the orchestrator as steps start and finish (every change
recomputes the run's status, wire.md 9.1), and looked up by cache key (wire.md 9.4)."""

from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import EntityExistsError, EntityNotFound
from core.api.timestamps import parse_ts, ts
from core.api.validation import invalid, parse_uuid
from mlmeta.api import references
from mlmeta.api.envelopes.runs import StepEnvelope, step_configuration
from mlmeta.api.filtersets.runs import StepFilterSet
from mlmeta.api.views.logs import attach_logs, create_logs, entries_response
from mlmeta.api.views.scoped import ProjectScopedViewSet
from mlmeta.choices import ExecutionStatus, StepRunInputArtifactType
from mlmeta.models import ArtifactVersion, PipelineRun, StepRun, StepRunInput, StepRunOutput

UPDATING_ACTIONS = {"heartbeat": "update"}
RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.RETRYING, ExecutionStatus.STOPPED})
STEP_FIELDS = ("cache_key", "code_hash", "docstring", "source_code", "exception_info", "dynamic_config")


def request_time(data, field):
    try:
        return parse_ts(data.get(field))
    except ValueError:
        raise invalid(field, "Input should be a valid datetime", data.get(field)) from None


def input_type(config: dict, name: str) -> str:
    """How a step got an input, as ZenML tells from the step's configuration."""
    if name in (config.get("external_input_artifacts") or {}):
        return StepRunInputArtifactType.EXTERNAL
    if name in (config.get("model_artifacts_or_metadata") or {}):
        return StepRunInputArtifactType.MANUAL
    if name in (config.get("client_lazy_loaders") or {}):
        return StepRunInputArtifactType.LAZY_LOADED
    return StepRunInputArtifactType.STEP_OUTPUT


class StepViewSet(ProjectScopedViewSet):
    model = StepRun
    envelope_class = StepEnvelope
    filterset_class = StepFilterSet
    create_schema = "StepRunRequest"
    update_schema = "StepRunUpdate"
    label = "step run"
    http_method_names = ["get", "post", "put"]
    unique_message = "Step `{name}` already exists in this pipeline run."

    def action_name(self) -> str:
        return UPDATING_ACTIONS.get(self.action) or super().action_name()

    def get_queryset(self):
        queryset = super().get_queryset()
        if "run_pk" in self.kwargs:  # GET /runs/{id}/steps
            run = references.resolve(self.request, PipelineRun, self.kwargs["run_pk"], "run_id", "pipeline run")
            queryset = queryset.filter(pipeline_run=run)
        if self.action == "update":  # saving reads the project (the row's tenant), the status the run
            queryset = queryset.select_related("project", "pipeline_run")
        return queryset

    # --- create ------------------------------------------------------------------------------
    def perform_create(self, data):
        project = self.project(data)
        run = self.ref(PipelineRun, data["pipeline_run_id"], "pipeline_run_id", "pipeline run", project, ("snapshot",))
        snapshot_steps = (run.snapshot.step_configurations if run.snapshot else None) or {}
        config, spec = step_configuration(
            StepRun(name=data["name"], dynamic_config=data.get("dynamic_config")), snapshot_steps
        )
        step = StepRun.objects.create(
            project=project,
            user=self.request.user,
            pipeline_run=run,
            name=data["name"],
            version=self.next_version(run, data["name"]),
            status=data["status"],
            start_time=request_time(data, "start_time"),
            end_time=request_time(data, "end_time"),
            cache_expires_at=request_time(data, "cache_expires_at"),
            original_step_run=self.ref(StepRun, data.get("original_step_run_id"), "original_step_run_id", "step run"),
            substitutions={**run.substitutions(), **(config.get("substitutions") or {})},
            **{field: data.get(field) for field in STEP_FIELDS},
        )
        parents = self.parents(run, step, data.get("parent_step_ids"), spec)
        if parents:  # a new step has none yet: nothing to compare or remove
            step.parents.add(*parents)
        self.link_inputs(step, data.get("inputs") or {}, config)
        self.link_outputs(step, data.get("outputs") or {})
        attach_logs(self.request, data.get("logs"), project, step_run=step)
        run.refresh_status()
        return step

    def next_version(self, run, name) -> int:
        """1 for a new step; a retry of a failed attempt takes the next number and retires it."""
        previous = run.steps.filter(name=name).order_by("-version").first()
        if previous is None:
            return 1
        if previous.status not in RETRYABLE:
            raise EntityExistsError(self.unique_message.format(name=name))
        previous.status = ExecutionStatus.RETRIED
        previous.save(update_fields=["status", "updated"])
        return previous.version + 1

    def parents(self, run, step, ids, spec) -> list[StepRun]:
        """The given parent steps, or the latest runs of the spec's upstream steps."""
        if ids:
            parents = list(run.steps.filter(pk__in=[parse_uuid(i, "parent_step_ids") for i in ids]))
            if len(parents) != len(set(ids)):
                raise EntityNotFound("Unable to get the parent step runs: not all are steps of this pipeline run")
            return parents
        upstream = spec.get("upstream_steps") or []
        latest = {}
        for step_run in run.steps.filter(name__in=upstream).exclude(pk=step.pk).order_by("version"):
            latest[step_run.name] = step_run
        return list(latest.values())

    def versions(self, by_name: dict) -> dict:
        """{id: ArtifactVersion} for every id in `{name: [id, ...]}`, 404 for any the caller cannot see."""
        ids = {parse_uuid(pk, "artifact version") for pks in by_name.values() for pk in pks}
        found = {v.pk: v for v in references.restricted(self.request, ArtifactVersion).filter(pk__in=ids)}
        missing = ids - set(found)
        if missing:
            pk = sorted(map(str, missing))[0]
            raise EntityNotFound(
                f"Unable to get artifact version with ID '{pk}': No artifact version with this ID found"
            )
        return found

    # Links are unique per (step, name, version): one INSERT for all, a link already made stays as it was.
    def link_inputs(self, step, inputs: dict, config: dict, kind=None) -> None:
        found = self.versions(inputs)
        links = [
            StepRunInput(
                step_run=step,
                name=name,
                artifact_version=found[parse_uuid(pk, name)],
                type=kind or input_type(config, name),
                tenant_id=step.tenant_id,
            )
            for name, ids in inputs.items()
            for pk in ids
        ]
        StepRunInput.objects.bulk_create(links, ignore_conflicts=True)

    def link_outputs(self, step, outputs: dict) -> None:
        found = self.versions(outputs)
        links = [
            StepRunOutput(
                step_run=step, name=name, artifact_version=found[parse_uuid(pk, name)], tenant_id=step.tenant_id
            )
            for name, ids in outputs.items()
            for pk in ids
        ]
        StepRunOutput.objects.bulk_create(links, ignore_conflicts=True)

    # --- update ------------------------------------------------------------------------------
    def perform_update(self, step, data):
        self.link_outputs(step, data.get("outputs") or {})
        loaded = {name: [pk] for name, pk in (data.get("loaded_artifact_versions") or {}).items()}
        self.link_inputs(step, loaded, {}, StepRunInputArtifactType.LAZY_LOADED)
        for logs in data.get("add_logs") or []:
            create_logs(self.request, logs, step.project, step_run=step)
        if data.get("exception_info") is not None:
            step.exception_info = data["exception_info"]
        if data.get("cache_expires_at"):
            step.cache_expires_at = request_time(data, "cache_expires_at")
        step.end_time = request_time(data, "end_time") or step.end_time
        step.save()
        if data.get("status"):
            step.update_status(data["status"], step.end_time)
        return step

    # --- sub-resources -----------------------------------------------------------------------
    @action(detail=True, methods=["put"])
    def heartbeat(self, request, pk=None):
        step = self.get_object(self.get_queryset().select_related("pipeline_run"))
        if request.data is not None:  # the body is optional; when sent it must be a StepHeartbeatRequest
            self.validated(request.data, "StepHeartbeatRequest")
        step.beat()
        return Response(
            {
                "id": str(step.pk),
                "status": step.status,
                "latest_heartbeat": ts(step.latest_heartbeat),
                "pipeline_run_status": step.pipeline_run.status,
                "heartbeat_enabled": step.pipeline_run.enable_heartbeat,
            }
        )

    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        return Response(self.get_object().status)

    @action(detail=True, methods=["get"], url_path="step-configuration")
    def step_configuration(self, request, pk=None):
        step = self.get_object(self.get_queryset().select_related("pipeline_run__snapshot"))
        snapshot = step.pipeline_run.snapshot
        config, _ = step_configuration(step, (snapshot.step_configurations if snapshot else None) or {})
        return Response(config)

    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        step = self.get_object()
        return entries_response(request, step.logs.select_related("artifact_store").order_by("created"))
