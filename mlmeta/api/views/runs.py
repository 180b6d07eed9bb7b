"""Pipeline runs: get-or-create with placeholder replacement (wire.md 9.2), client status updates
under the late-status rule, and the per-run sub-resources."""

from django.db import transaction
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound
from core.api.timestamps import parse_ts
from core.api.validation import invalid, parse_uuid, validate_body
from core.api.views import hydrate_param
from mlmeta import launching, tagging
from mlmeta.api.dag import run_dag
from mlmeta.api.envelopes.runs import RunEnvelope, run_configuration
from mlmeta.api.filtersets.runs import RunFilterSet
from mlmeta.api.statistics import run_statistics
from mlmeta.api.views.logs import attach_logs, create_logs, entries_response
from mlmeta.api.views.scoped import ProjectScopedViewSet, bool_param
from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import PipelineRun, PipelineSnapshot, RunMetadata

UPDATING_ACTIONS = {"stop": "update", "refresh": "update", "disable_heartbeat": "update", "replay": "read"}


def is_placeholder_request(data) -> bool:
    return data["status"] == ExecutionStatus.INITIALIZING and not data.get("orchestrator_run_id")


def run_request_overrides(data) -> dict:
    """The run configuration of a PipelineSnapshotRunRequest-like body ({"run_configuration": {...}})."""
    data = data or {}
    if not isinstance(data, dict):
        raise invalid("body", "Input should be a valid dictionary", data)
    unknown = sorted(set(data) - {"run_configuration", "step_run"})
    if unknown:
        raise invalid(unknown[0], "Extra inputs are not permitted", data[unknown[0]])
    return data.get("run_configuration") or {}


def request_time(data, field):
    try:
        return parse_ts(data.get(field))
    except ValueError:
        raise invalid(field, "Input should be a valid datetime", data.get(field)) from None


class RunViewSet(ProjectScopedViewSet):
    model = PipelineRun
    envelope_class = RunEnvelope
    filterset_class = RunFilterSet
    create_schema = "PipelineRunRequest"
    update_schema = "PipelineRunUpdate"
    label = "pipeline run"
    tag_type = TaggableResourceType.PIPELINE_RUN
    unique_message = "Pipeline run with name `{name}` already exists in this project."

    def action_name(self) -> str:
        return UPDATING_ACTIONS.get(self.action) or super().action_name()

    def envelope(self, hydrate: bool):
        return RunEnvelope(
            self.request,
            hydrate,
            include_python_packages=bool_param(self.request, "include_python_packages", False),
            include_full_metadata=bool_param(self.request, "include_full_metadata", False),
        )

    # --- get-or-create -----------------------------------------------------------------------
    def create(self, request, *args, **kwargs):
        data = self.validated(request.data, self.create_schema)
        run, created = self.save_or_conflict(lambda: self.get_or_create(data), data)
        return Response([self.render(run), created])

    def get_or_create(self, data) -> tuple[PipelineRun, bool]:
        """wire.md 9.2. The snapshot row is locked, so concurrent requests for one snapshot (e.g.
        several orchestrator pods) queue and see each other's runs."""
        project = self.project(data)
        snapshot = self.ref(PipelineSnapshot, data["snapshot"], "snapshot", "snapshot", project)
        PipelineSnapshot.objects.select_for_update().filter(pk=snapshot.pk).values_list("pk").get()
        runs = PipelineRun.objects.filter(snapshot=snapshot)
        orchestrator_run_id = data.get("orchestrator_run_id")
        if orchestrator_run_id:
            existing = runs.filter(orchestrator_run_id=orchestrator_run_id).first()
            if existing is not None:
                return existing, False
        if not is_placeholder_request(data):
            placeholder = runs.filter(status=ExecutionStatus.INITIALIZING, orchestrator_run_id__isnull=True)
            placeholder = placeholder.order_by("created").first()
            if placeholder is not None:
                self.authorize("update", placeholder)
                placeholder.replace_placeholder(
                    orchestrator_run_id,
                    data["status"],
                    data.get("orchestrator_environment"),
                    request_time(data, "start_time"),
                )
                self.link_extras(placeholder, data)
                return placeholder, True
        return self.created(self.create_run(project, snapshot, data)), True

    def create_run(self, project, snapshot, data) -> PipelineRun:
        parent = self.ref(PipelineRun, data.get("parent_run_id"), "parent_run_id", "pipeline run", project)
        run = PipelineRun.objects.create(
            project=project,
            user=self.request.user,
            name=data["name"],
            pipeline=snapshot.pipeline,
            snapshot=snapshot,
            source_snapshot=snapshot.source_snapshot,
            stack=snapshot.stack,
            build=snapshot.build,
            schedule=snapshot.schedule,
            status=data["status"],
            status_reason=data.get("status_reason"),
            orchestrator_run_id=data.get("orchestrator_run_id"),
            start_time=request_time(data, "start_time"),
            end_time=request_time(data, "end_time"),
            orchestrator_environment=data.get("orchestrator_environment") or {},
            trigger_info=data.get("trigger_info"),
            exception_info=data.get("exception_info"),
            enable_heartbeat=(snapshot.pipeline_configuration or {}).get("enable_heartbeat") is not False,
            original_run=self.ref(PipelineRun, data.get("original_run_id"), "original_run_id", "pipeline run", project),
            parent_run=parent,
            root_run=parent and (parent.root_run or parent),
            child_key=data.get("child_key"),
        )
        self.link_extras(run, data)
        return run

    def link_extras(self, run, data) -> None:
        self.add_tags(run, data.get("tags"))
        attach_logs(self.request, data.get("logs"), run.project, pipeline_run=run)

    # --- updates -----------------------------------------------------------------------------
    def perform_update(self, run, data):
        if data.get("status"):
            run.update_status(data["status"], data.get("status_reason"))
        changed = []
        if data.get("orchestrator_run_id") and not run.orchestrator_run_id:
            run.orchestrator_run_id = data["orchestrator_run_id"]
            changed.append("orchestrator_run_id")
        if data.get("exception_info") is not None:
            run.exception_info = data["exception_info"]
            changed.append("exception_info")
        if changed:
            run.save(update_fields=[*changed, "updated"])
        self.update_tags(run, data)
        for logs in data.get("add_logs") or []:
            create_logs(self.request, logs, run.project, pipeline_run=run)
        return run

    # --- reads -------------------------------------------------------------------------------
    def retrieve(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, True)
        run = self.get_object(self.envelope_class.prefetch_one(self.get_queryset(), hydrate))
        if bool_param(request, "refresh_status", False):
            run.refresh_status()
            return Response(self.render(run, hydrate))  # read again: the refresh may change it
        return Response(self.envelope(hydrate).render(run))

    @action(detail=True, methods=["get"])
    def status(self, request, pk=None):
        return Response(self.get_object().status)

    @action(detail=True, methods=["get"], url_path="pipeline-configuration")
    def pipeline_configuration(self, request, pk=None):
        run = self.get_object(self.get_queryset().select_related("snapshot"))
        return Response(run_configuration(run))

    @action(detail=True, methods=["get"])
    def dag(self, request, pk=None):
        run = self.get_object()
        return Response(run_dag(run, request.query_params.getlist("include_step_metadata")))

    @action(detail=True, methods=["get"])
    def logs(self, request, pk=None):
        run = self.get_object()
        return entries_response(request, run.log_collection.select_related("artifact_store").order_by("created"))

    @action(detail=False, methods=["post"])
    def statistics(self, request):
        validate_body(request.data, "RunStatisticsRequest", f"POST {request.path}")
        return Response(run_statistics(request, self.get_queryset(), request.data))

    # --- state changes -----------------------------------------------------------------------
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """Stop the run; a server-side run's runner (subprocess, job) is ended too."""
        run = self.get_object()
        run.request_stop(graceful=bool_param(request, "graceful", False))
        if run.launch:
            launching.stop_runner(run)
        return Response(None)

    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Run the run's snapshot again with its configuration (plus optional overrides), server-side."""
        run = self.get_object(self.readable())
        overrides = run_request_overrides(request.data)
        if run.snapshot is not None and not launching.may_launch(request.user, run.snapshot):
            self.deny("create", run.pk)
        new_run = launching.replay_run(run, user=request.user, overrides=overrides, request=request)
        return Response(self.render(new_run))

    def launch(self, request, snapshot_id=None):
        """POST /pipeline_snapshots/{id}/runs: a server-side run of the snapshot."""
        snapshot = self.find_snapshot(snapshot_id)
        overrides = run_request_overrides(request.data)
        if not launching.may_launch(request.user, snapshot):
            self.deny("create", snapshot.pk)
        run = launching.launch_snapshot(
            snapshot, user=request.user, overrides=overrides, trigger={"type": "api"}, request=request
        )
        return Response(self.render(run))

    def find_snapshot(self, raw) -> PipelineSnapshot:
        pk = parse_uuid(raw, "snapshot_id", "path")
        readable = PipelineSnapshot.objects.restrict(self.request.user, "read").filter(tenant=self.request.tenant)
        snapshot = readable.filter(pk=pk).select_related("stack", "project", "tenant", "pipeline").first()
        if snapshot is None:
            raise EntityNotFound(f"Unable to get pipeline snapshot with ID '{raw}': No snapshot with this ID found")
        return snapshot

    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        self.get_object().refresh_status()
        return Response(None)

    @action(detail=True, methods=["put"])
    def disable_heartbeat(self, request, pk=None):
        run = self.get_object()
        run.enable_heartbeat = False
        run.save(update_fields=["enable_heartbeat", "updated"])
        return Response(None)

    def perform_destroy(self, run):
        """Steps, their links and log records go with the run (foreign keys); tags and metadata
        point at it by id only, so they are removed here."""
        step_ids = list(run.steps.values_list("pk", flat=True))
        with transaction.atomic():
            tagging.forget_resources(self.tag_type, [run.pk])
            RunMetadata.objects.filter(resource_type=MetadataResourceType.PIPELINE_RUN, resource_id=run.pk).delete()
            RunMetadata.objects.filter(resource_type=MetadataResourceType.STEP_RUN, resource_id__in=step_ids).delete()
            run.delete()
