"""Pipelines and what a run is made from: code repositories, builds, schedules, snapshots (with
their pruning and code downloads)."""

import uuid

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import FileResponse
from django.utils.dateparse import parse_duration
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.api.exceptions import EntityNotFound, IllegalOperationError, ZenError
from core.api.timestamps import parse_ts
from core.api.validation import invalid, parse_uuid
from core.api.views import hydrate_param
from mlmeta import artifact_files, scheduling, tagging
from mlmeta.api import references
from mlmeta.api.envelopes.pipelines import (
    CodeRepositoryEnvelope,
    PipelineBuildEnvelope,
    PipelineEnvelope,
    ScheduleEnvelope,
    SnapshotEnvelope,
)
from mlmeta.api.filtersets.pipelines import (
    CodeRepositoryFilterSet,
    PipelineBuildFilterSet,
    PipelineFilterSet,
    ScheduleFilterSet,
    SnapshotFilterSet,
)
from mlmeta.api.views.scoped import ProjectScopedViewSet, bool_param
from mlmeta.choices import StackComponentType, TaggableResourceType
from mlmeta.models import (
    CodeReference,
    CodeRepository,
    Pipeline,
    PipelineBuild,
    PipelineRun,
    PipelineSnapshot,
    Schedule,
    Stack,
    StackComponent,
)
from tenants import rbac

CODE_SALT = "mlmeta.snapshot-code-download"
PRUNE_BATCH = 1000
SNAPSHOT_FIELDS = (
    "run_name_template",
    "pipeline_configuration",
    "client_environment",
    "client_version",
    "server_version",
    "pipeline_version_hash",
    "pipeline_spec",
    "is_dynamic",
    "description",
    "source_code",
    "code_path",
)


class CodeRepositoryViewSet(ProjectScopedViewSet):
    model = CodeRepository
    envelope_class = CodeRepositoryEnvelope
    filterset_class = CodeRepositoryFilterSet
    create_schema = "CodeRepositoryRequest"
    update_schema = "CodeRepositoryUpdate"
    label = "code repository"
    unique_message = "Code repository with name `{name}` already exists in this project."

    def perform_create(self, data):
        return CodeRepository.objects.create(
            project=self.project(data),
            user=self.request.user,
            name=data["name"],
            config=data["config"],
            source=data["source"],
            logo_url=data.get("logo_url"),
            description=data.get("description"),
        )

    def perform_update(self, repo, data):
        for field in ("name", "config", "source", "logo_url", "description"):
            if data.get(field) is not None:
                setattr(repo, field, data[field])
        repo.save()
        return repo


class PipelineViewSet(ProjectScopedViewSet):
    model = Pipeline
    envelope_class = PipelineEnvelope
    filterset_class = PipelineFilterSet
    create_schema = "PipelineRequest"
    update_schema = "PipelineUpdate"
    label = "pipeline"
    tag_type = TaggableResourceType.PIPELINE
    unique_message = "Pipeline with name `{name}` already exists in this project."

    def perform_create(self, data):
        pipeline = Pipeline.objects.create(
            project=self.project(data), user=self.request.user, name=data["name"], description=data.get("description")
        )
        self.add_tags(pipeline, data.get("tags"))
        return pipeline

    def perform_update(self, pipeline, data):
        if data.get("description") is not None:
            pipeline.description = data["description"]
            pipeline.save()
        self.update_tags(pipeline, data)
        return pipeline


class PipelineBuildViewSet(ProjectScopedViewSet):
    model = PipelineBuild
    envelope_class = PipelineBuildEnvelope
    filterset_class = PipelineBuildFilterSet
    create_schema = "PipelineBuildRequest"
    label = "pipeline build"
    http_method_names = ["get", "post", "delete"]

    def perform_create(self, data):
        project = self.project(data)
        values = {
            field: data.get(field)
            for field in ("zenml_version", "python_version", "duration", "checksum", "stack_checksum")
        }
        return PipelineBuild.objects.create(
            project=project,
            user=self.request.user,
            pipeline=self.ref(Pipeline, data.get("pipeline"), "pipeline", "pipeline", project),
            stack=self.ref(Stack, data.get("stack"), "stack", "stack"),
            images=data.get("images") or {},
            is_local=data["is_local"],
            contains_code=data["contains_code"],
            **values,
        )


def code_store(snapshot):
    """The artifact store holding the snapshot's code archive; 400 when it has none."""
    store = None
    if snapshot.code_path and snapshot.stack is not None:
        store = snapshot.stack.components.filter(type=StackComponentType.ARTIFACT_STORE).first()
    if store is None:
        raise ZenError(f"Snapshot {snapshot.pk} has no code archive in an artifact store.")
    return store


def parse_interval(value):
    """A schedule interval: ISO-8601 duration, `[DD] HH:MM:SS` or seconds, as pydantic accepts."""
    if value is None:
        return None
    interval = None if isinstance(value, int | float) else parse_duration(str(value))
    if interval is None:
        try:
            interval = parse_duration(f"PT{float(value)}S")
        except ValueError:
            raise invalid("interval_second", "Input should be a valid duration", value) from None
    return interval


class ScheduleViewSet(ProjectScopedViewSet):
    model = Schedule
    envelope_class = ScheduleEnvelope
    filterset_class = ScheduleFilterSet
    create_schema = "ScheduleRequest"
    update_schema = "ScheduleUpdate"
    label = "schedule"

    def get_queryset(self):
        """Not the schedules behind ZenML schedule triggers: those are served as `/triggers`."""
        return super().get_queryset().filter(trigger__isnull=True)

    def perform_create(self, data):
        project = self.project(data)
        schedule = Schedule.objects.create(
            project=project,
            user=self.request.user,
            name=data["name"],
            active=data["active"],
            cron_expression=data.get("cron_expression"),
            start_time=self.time(data, "start_time"),
            end_time=self.time(data, "end_time"),
            interval_second=parse_interval(data.get("interval_second")),
            catchup=bool(data.get("catchup")),
            run_once_start_time=self.time(data, "run_once_start_time"),
            orchestrator=self.ref(StackComponent, data.get("orchestrator_id"), "orchestrator_id", "stack component"),
            pipeline=self.ref(Pipeline, data.get("pipeline_id"), "pipeline_id", "pipeline", project),
            **self.native_fields(data, project),
        )
        return self.synced(schedule)

    def native_fields(self, data, project) -> dict:
        """MLMeta's native-schedule extensions (fired by celery beat): `snapshot_id`, `max_runs`
        and `concurrency` ("skip" while the previous run is unfinished, or "queue")."""
        fields = {}
        if "snapshot_id" in data:
            fields["snapshot"] = self.ref(
                PipelineSnapshot, data.get("snapshot_id"), "snapshot_id", "pipeline snapshot", project
            )
        if "max_runs" in data:
            max_runs = data.get("max_runs")
            if max_runs is not None and (not isinstance(max_runs, int) or isinstance(max_runs, bool) or max_runs < 1):
                raise invalid("max_runs", "Input should be a positive integer", max_runs)
            fields["max_runs"] = max_runs
        if "concurrency" in data:
            if data["concurrency"] not in (scheduling.SKIP, scheduling.QUEUE):
                raise invalid("concurrency", "Input should be 'skip' or 'queue'", data["concurrency"])
            fields["concurrency"] = data["concurrency"]
        return fields

    @staticmethod
    def synced(schedule):
        """Keep the schedule's celery-beat PeriodicTask in step; a bad cron expression is a 422."""
        try:
            scheduling.sync(schedule)
        except ValueError as exc:
            raise invalid("cron_expression", str(exc), schedule.cron_expression) from None
        return schedule

    @staticmethod
    def time(data, field):
        try:
            return parse_ts(data.get(field))
        except ValueError:
            raise invalid(field, "Input should be a valid datetime", data.get(field)) from None

    def perform_update(self, schedule, data):
        for field in ("name", "cron_expression", "active"):
            if data.get(field) is not None:
                setattr(schedule, field, data[field])
        for field in ("start_time", "end_time"):
            if field in data:
                setattr(schedule, field, self.time(data, field))
        if "interval_second" in data:
            schedule.interval_second = parse_interval(data.get("interval_second"))
        for field, value in self.native_fields(data, schedule.project).items():
            setattr(schedule, field, value)
        schedule.save()
        return self.synced(schedule)

    def perform_destroy(self, schedule):
        if bool_param(self.request, "soft", False):
            schedule.is_archived = True
            schedule.active = False
            schedule.save(update_fields=["is_archived", "active", "updated"])
            scheduling.remove(schedule)
            return
        scheduling.remove(schedule)
        super().perform_destroy(schedule)


class SnapshotViewSet(ProjectScopedViewSet):
    model = PipelineSnapshot
    envelope_class = SnapshotEnvelope
    filterset_class = SnapshotFilterSet
    create_schema = "PipelineSnapshotRequest"
    update_schema = "PipelineSnapshotUpdate"
    label = "snapshot"
    tag_type = TaggableResourceType.PIPELINE_SNAPSHOT
    unique_message = "Snapshot with name `{name}` already exists for this pipeline."

    def retrieve(self, request, *args, **kwargs):
        hydrate = hydrate_param(request, True)
        snapshot = self.get_object(SnapshotEnvelope.prefetch(self.get_queryset(), hydrate))
        envelope = SnapshotEnvelope(
            request,
            hydrate,
            step_names=request.query_params.getlist("step_configuration_filter") or None,
            include_config_schema=bool_param(request, "include_config_schema", True),
        )
        return Response(envelope.render(snapshot))

    def perform_create(self, data):
        project = self.project(data)
        pipeline = self.ref(Pipeline, data["pipeline"], "pipeline", "pipeline", project)
        snapshot = PipelineSnapshot.objects.create(
            project=project,
            user=self.request.user,
            pipeline=pipeline,
            stack=self.ref(Stack, data["stack"], "stack", "stack"),
            build=self.ref(PipelineBuild, data.get("build"), "build", "pipeline build", project),
            schedule=self.ref(Schedule, data.get("schedule"), "schedule", "schedule", project),
            source_snapshot=self.ref(PipelineSnapshot, data.get("source_snapshot"), "source_snapshot", "snapshot"),
            code_reference=self.code_reference(project, data.get("code_reference")),
            template_id=parse_uuid(data.get("template"), "template"),
            name=self.claim_name(pipeline, data.get("name"), data.get("replace")),
            step_configurations=data.get("step_configurations") or {},
            **{field: data[field] for field in SNAPSHOT_FIELDS if data.get(field) is not None},
        )
        self.add_tags(snapshot, data.get("tags"))
        return snapshot

    def perform_update(self, snapshot, data):
        if "name" in data:
            snapshot.name = self.claim_name(snapshot.pipeline, data["name"], data.get("replace"), snapshot)
        if data.get("description") is not None:
            snapshot.description = data["description"]
        snapshot.save()
        self.update_tags(snapshot, data)
        return snapshot

    def code_reference(self, project, data):
        if not data:
            return None
        repository = self.ref(CodeRepository, data["code_repository"], "code_reference", "code repository", project)
        return CodeReference.objects.create(
            project=project,
            user=self.request.user,
            code_repository=repository,
            commit=data["commit"],
            subdirectory=data["subdirectory"],
        )

    # --- pruning -----------------------------------------------------------------------------
    def action_name(self) -> str:
        return "delete" if self.action == "prune" else super().action_name()

    @action(detail=False, methods=["post"])
    def prune(self, request):
        """Anonymous snapshots created before `older_than` that no run or snapshot refers to:
        counted, or with `apply` deleted (here and now, so `task_id` stays null). Deleting one can
        free the snapshot it was derived from, so deletion repeats until nothing is left."""
        data = self.validated(request.data, "PipelineSnapshotPruneRequest")
        project = references.resolve_project(request, parse_uuid(data["project"], "project"))
        if not rbac.can(request.user, "prune", "pipeline_snapshot", tenant=request.tenant, project=project):
            self.deny("prune")
        older_than = ScheduleViewSet.time(data, "older_than")
        if not data.get("apply"):
            return Response({"snapshot_count": self.prunable(project, older_than).count(), "task_id": None})
        deleted = 0
        with transaction.atomic():
            while ids := list(self.prunable(project, older_than).values_list("pk", flat=True)[:PRUNE_BATCH]):
                tagging.forget_resources(self.tag_type, ids)
                PipelineSnapshot.objects.filter(pk__in=ids).delete()
                deleted += len(ids)
        return Response({"snapshot_count": deleted, "task_id": None})

    def prunable(self, project, older_than):
        in_use = (
            Exists(PipelineRun.objects.filter(snapshot=OuterRef("pk")))
            | Exists(PipelineRun.objects.filter(source_snapshot=OuterRef("pk")))
            | Exists(PipelineSnapshot.objects.filter(source_snapshot=OuterRef("pk")))
        )
        candidates = self.get_queryset().filter(project=project, name__isnull=True, created__lt=older_than)
        return candidates.exclude(in_use)

    # --- code download -----------------------------------------------------------------------
    @action(detail=True, methods=["get"], url_path="download-token")
    def download_token(self, request, pk=None):
        snapshot = self.get_object(self.get_queryset().select_related("stack"))
        code_store(snapshot)
        return Response(signing.TimestampSigner(salt=CODE_SALT).sign(f"{request.tenant.pk}:{snapshot.pk}"))

    @action(detail=True, methods=["get"], permission_classes=[AllowAny], authentication_classes=[])
    def code(self, request, pk=None):
        """The snapshot's code archive from its stack's (local) artifact store. The signed,
        short-lived token from `download-token` is the credential, bound to tenant and snapshot."""
        pk = parse_uuid(pk, "snapshot_id", "path")
        not_found = EntityNotFound(f"Unable to get snapshot with ID '{pk}': No snapshot with this ID found")
        if request.tenant is None:
            raise not_found
        try:
            claim = signing.TimestampSigner(salt=CODE_SALT).unsign(
                request.query_params.get("token", ""), max_age=settings.ARTIFACT_DOWNLOAD_TOKEN_SECONDS
            )
        except signing.BadSignature:
            raise IllegalOperationError("Invalid or expired download token.") from None
        if claim != f"{request.tenant.pk}:{pk}":
            raise IllegalOperationError("The download token is not valid for this snapshot.")
        snapshot = PipelineSnapshot.objects.filter(tenant=request.tenant, pk=pk).select_related("stack").first()
        if snapshot is None:
            raise not_found
        path = artifact_files.local_path(snapshot.code_path, code_store(snapshot))
        if not path.is_file():
            raise ZenError(f"`{snapshot.code_path}` is not a code archive.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)

    @staticmethod
    def claim_name(pipeline, name, replace, snapshot=None):
        """The snapshot's name: `True` asks for a generated one; `replace` takes a used name over."""
        if name is True:
            return f"{pipeline.name}-{uuid.uuid4().hex[:8]}"
        if not name:
            return None
        if replace:
            taken = PipelineSnapshot.objects.filter(pipeline=pipeline, name=name)
            if snapshot is not None:
                taken = taken.exclude(pk=snapshot.pk)
            taken.update(name=None)
        return name
