"""Envelopes of pipeline runs, step runs and log records.

Runs and steps carry `resources` even on non-hydrated lists, as the real server does; the
related rows come from page-wide loaders (`core.rawsql.KeyedQuery`: one query per related table,
compiled once per process), so a page costs a fixed number of queries whatever its size.
"""

from collections import defaultdict

from django.db.models import F

from core.api.envelope import OwnedEnvelope, id_or_none
from core.api.timestamps import ts
from core.rawsql import KeyedQuery
from mlmeta.api.envelopes.artifacts import ArtifactVersionEnvelope
from mlmeta.api.envelopes.common import run_metadata_by_resource, tags_by_resource
from mlmeta.api.envelopes.models import ModelVersionEnvelope
from mlmeta.api.envelopes.nested import PageEnvelope, load_keyed, nested
from mlmeta.api.envelopes.pipelines import (
    SNAPSHOT_HEAVY,
    CodeReferenceEnvelope,
    PipelineBuildEnvelope,
    PipelineEnvelope,
    ScheduleEnvelope,
    SnapshotEnvelope,
    without_packages,
)
from mlmeta.api.envelopes.stacks import StackEnvelope
from mlmeta.choices import MetadataResourceType, TaggableResourceType
from mlmeta.models import Logs, ModelVersion, PipelineRun, PipelineSnapshot, StepRun, StepRunInput, StepRunOutput
from tenants.api.envelopes import nested_user


class LogsEnvelope(OwnedEnvelope):
    name_attr = None
    resources_always = True

    def body(self, logs) -> dict:
        return {**super().body(logs), "uri": logs.uri, "source": logs.source, **self.links(logs)}

    def metadata(self, logs) -> dict:
        return self.links(logs)

    def resources(self, logs) -> dict:
        return {"user": nested_user(logs.user)}

    @staticmethod
    def links(logs) -> dict:
        return {
            "step_run_id": id_or_none(logs.step_run_id),
            "pipeline_run_id": id_or_none(logs.pipeline_run_id),
            "artifact_store_id": id_or_none(logs.artifact_store_id),
            "log_store_id": id_or_none(logs.log_store_id),
            "hook_invocation_id": id_or_none(logs.hook_invocation_id),
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        return queryset.select_related("user")


class RunEnvelope(PageEnvelope):
    page_relations = ("user",)
    related_paths = (
        "snapshot",
        "source_snapshot",
        "stack",
        "pipeline",
        "build",
        "schedule",
        "snapshot.code_reference",
        "model_version",
        "original_run",
        "parent_run",
    )

    def __init__(self, request=None, hydrate=False, include_python_packages=False, include_full_metadata=False):
        super().__init__(request, hydrate)
        self.include_python_packages = include_python_packages
        self.include_full_metadata = include_full_metadata

    def load(self, runs):
        self.load_related(runs)
        ids = [run.pk for run in runs]
        self.logs = logs_by_run(ids)
        self.tags = tags_by_resource(TaggableResourceType.PIPELINE_RUN, ids)
        self.run_metadata = run_metadata_by_resource(MetadataResourceType.PIPELINE_RUN, ids) if self.hydrate else {}
        if self.hydrate and self.include_full_metadata:
            self.add_step_metadata(ids)

    def load_related(self, runs):
        """One IN query per related table that the page uses. The pages share few snapshots,
        pipelines and stacks, so each is built once per page instead of once per row of an 18-way
        join (bench/RESULTS.md); the snapshot query brings the pipeline, stack, build and schedule
        that the runs share with their snapshot."""
        load_keyed(runs, "snapshot", RUN_SNAPSHOTS[self.hydrate])
        take_from_snapshots(runs)
        load_keyed(runs, "source_snapshot", SOURCE_SNAPSHOTS)
        load_keyed(runs, "model_version", MODEL_VERSIONS)
        for name in ("original_run", "parent_run", *SNAPSHOT_RELATIONS):
            load_keyed(runs, name)

    def add_step_metadata(self, run_ids):
        """With `include_full_metadata`, step metadata joins the run's as `<step>::<key>`."""
        steps = StepRun.objects.filter(pipeline_run__in=run_ids).values_list("id", "name", "pipeline_run_id")
        steps = {step_id: (name, run_id) for step_id, name, run_id in steps}
        for step_id, values in run_metadata_by_resource(MetadataResourceType.STEP_RUN, list(steps)).items():
            name, run_id = steps[step_id]
            self.run_metadata.setdefault(run_id, {}).update({f"{name}::{key}": value for key, value in values.items()})

    def body(self, run) -> dict:
        return {
            **super().body(run),
            "status": run.status,
            "in_progress": run.in_progress,
            "status_reason": run.status_reason,
            "index": run.index,
            "pipeline_id": id_or_none(run.pipeline_id),
            "child_key": run.child_key,
            "root_run_id": id_or_none(run.root_run_id),
        }

    def metadata(self, run) -> dict:
        snapshot = run.snapshot
        return {
            "run_metadata": self.run_metadata.get(run.pk, {}),
            "config": run_configuration(run),
            "start_time": ts(run.start_time),
            "end_time": ts(run.end_time),
            "client_environment": self.environment(
                run.client_environment or (snapshot and snapshot.client_environment)
            ),
            "orchestrator_environment": self.environment(run.orchestrator_environment),
            "orchestrator_run_id": run.orchestrator_run_id,
            "code_path": snapshot.code_path if snapshot else None,
            "template_id": id_or_none(snapshot.template_id if snapshot else None),
            "is_templatable": bool(snapshot and snapshot.build and not snapshot.build.is_local),
            "trigger_info": run.trigger_info,
            "enable_heartbeat": run.enable_heartbeat,
            "exception_info": run.exception_info,
            "trigger_execution_info": run.trigger_execution_info,
        }

    def environment(self, environment):
        return (environment or {}) if self.include_python_packages else without_packages(environment)

    def resources(self, run) -> dict:
        snapshot = run.snapshot
        return {
            "user": self.user(run.user),
            "snapshot": self.nested(SnapshotEnvelope, snapshot),
            "source_snapshot": self.nested(SnapshotEnvelope, run.source_snapshot),
            "stack": self.nested(StackEnvelope, run.stack),
            "pipeline": self.nested(PipelineEnvelope, run.pipeline),
            "build": self.nested(PipelineBuildEnvelope, run.build),
            "schedule": self.nested(ScheduleEnvelope, run.schedule),
            "code_reference": self.nested(CodeReferenceEnvelope, snapshot.code_reference if snapshot else None),
            "model_version": self.nested(ModelVersionEnvelope, run.model_version),
            "tags": [self.tag(tag) for tag in self.tags.get(run.pk, [])],
            "log_collection": [nested(LogsEnvelope, logs) for logs in self.logs.get(run.pk, [])],
            "visualizations": [],
            "trigger": None,
            "original_run": self.nested(RunEnvelope, run.original_run),
            "parent_run": self.nested(RunEnvelope, run.parent_run),
            "active_wait_condition": None,
            "outputs": {},
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        """One narrow query for the page of runs; `load_related` brings what they link to."""
        queryset = queryset.defer(*UNRENDERED_COLUMNS)
        return queryset if hydrate else queryset.defer(*METADATA_COLUMNS)


# Columns of a run that no envelope shows, and those only its `metadata` (hydrated) shows.
UNRENDERED_COLUMNS = ("launch", "runner_claimed_at", "duration")
METADATA_COLUMNS = (
    "client_environment",
    "orchestrator_environment",
    "orchestrator_run_id",
    "start_time",
    "end_time",
    "trigger_info",
    "trigger_execution_info",
    "exception_info",
    "enable_heartbeat",
)

# A run is made with its snapshot's pipeline, stack, build and schedule.
SNAPSHOT_RELATIONS = ("pipeline", "stack", "build", "schedule")
# Snapshot columns a run's envelope shows only when hydrated.
SNAPSHOT_UNLISTED = (*SNAPSHOT_HEAVY, "pipeline_configuration", "client_environment")
# The snapshots of a page of runs (by hydration), with the rows the runs share with them.
RUN_SNAPSHOTS = {
    hydrate: KeyedQuery(
        lambda ids, hydrate=hydrate: (
            PipelineSnapshot.objects.filter(pk__in=ids)
            .select_related(*SNAPSHOT_RELATIONS, "code_reference__code_repository")
            .defer(*SNAPSHOT_HEAVY if hydrate else SNAPSHOT_UNLISTED)
        )
    )
    for hydrate in (False, True)
}
SOURCE_SNAPSHOTS = KeyedQuery(
    lambda ids: PipelineSnapshot.objects.filter(pk__in=ids).select_related("build").defer(*SNAPSHOT_UNLISTED)
)
MODEL_VERSIONS = KeyedQuery(lambda ids: ModelVersion.objects.filter(pk__in=ids).select_related("model"))


def take_from_snapshots(runs) -> None:
    """Give each run the related rows it shares with its (prefetched) snapshot, so they need no
    query of their own."""
    fields = [PipelineRun._meta.get_field(name) for name in SNAPSHOT_RELATIONS]
    for run in runs:
        if run.snapshot is None:
            continue
        for field in fields:
            pk = getattr(run, field.attname)
            if pk is not None and pk == getattr(run.snapshot, field.attname):
                field.set_cached_value(run, getattr(run.snapshot, field.name))  # as a prefetch does


RUN_LOGS = KeyedQuery(lambda ids: Logs.objects.filter(pipeline_run__in=ids).order_by("created", "id"))


def logs_by_run(run_ids) -> dict:
    """{run id: [Logs, ...]} of the given runs, oldest first, in one query."""
    found = defaultdict(list)
    for logs in RUN_LOGS.objects(run_ids):
        found[logs.pipeline_run_id].append(logs)
    return found


def run_configuration(run) -> dict:
    """The snapshot's pipeline configuration with the run's substitutions filled in."""
    configuration = dict(run.snapshot.pipeline_configuration) if run.snapshot else {}
    configuration["substitutions"] = run.substitutions()
    return configuration


def step_configuration(step, snapshot_steps: dict) -> tuple[dict, dict]:
    """(config, spec) of a step: its snapshot entry (or its dynamic config), with the step's
    substitutions filled in."""
    source = step.dynamic_config or snapshot_steps.get(step.name) or {}
    config = dict(source.get("config") or {})
    config["substitutions"] = step.substitutions or config.get("substitutions") or {}
    return config, source.get("spec") or {}


def by_step(query, ids) -> dict:
    """{step id: [row, ...]} of `query` (a KeyedQuery by step run)."""
    found = defaultdict(list)
    for row in query.objects(ids):
        found[row.step_run_id].append(row)
    return found


def _links(model):
    return KeyedQuery(
        lambda ids: (
            model.objects.filter(step_run__in=ids)
            .select_related("artifact_version__artifact")
            .order_by("created", "id")
        )
    )


STEP_INPUTS, STEP_OUTPUTS = _links(StepRunInput), _links(StepRunOutput)
STEP_LOGS = KeyedQuery(lambda ids: Logs.objects.filter(step_run__in=ids).order_by("created", "id"))
STEP_PARENTS = KeyedQuery(
    lambda ids: (
        StepRun.parents.through.objects.filter(from_steprun__in=ids)
        .order_by("to_steprun__created", "to_steprun_id")
        .values_list("from_steprun_id", "to_steprun_id")
    )
)


class StepEnvelope(PageEnvelope):
    page_relations = ("user",)
    related_paths = ("model_version",)

    def prime(self, steps) -> None:
        """The model version and the artifact versions the steps read and wrote."""
        super().prime(steps)
        if self.visibility is not None:
            links = (link for step in steps for link in (*self.inputs[step.pk], *self.outputs[step.pk]))
            self.visibility.prime(link.artifact_version for link in links)

    def load(self, steps):
        ids = [step.pk for step in steps]
        self.inputs, self.outputs = by_step(STEP_INPUTS, ids), by_step(STEP_OUTPUTS, ids)
        self.logs = by_step(STEP_LOGS, ids)
        self.parents, self.run_metadata, self.snapshot_of, self.snapshot_steps = defaultdict(list), {}, {}, {}
        if not self.hydrate:
            return
        for step_id, parent_id in STEP_PARENTS.rows(ids):
            self.parents[step_id].append(parent_id)
        self.run_metadata = run_metadata_by_resource(MetadataResourceType.STEP_RUN, ids)
        self.snapshot_of = {s.pipeline_run_id: s.run_snapshot_id for s in steps if hasattr(s, "run_snapshot_id")}
        runs = PipelineRun.objects.filter(pk__in={step.pipeline_run_id for step in steps} - self.snapshot_of.keys())
        self.snapshot_of.update(runs.values_list("id", "snapshot_id"))  # no query when all were annotated
        snapshots = PipelineSnapshot.objects.filter(pk__in=set(self.snapshot_of.values()))
        self.snapshot_steps = dict(snapshots.values_list("id", "step_configurations"))

    def body(self, step) -> dict:
        return {
            **super().body(step),
            "type": step.type,
            "status": step.status,
            "version": step.version,
            "is_retriable": step.is_retriable,
            "start_time": ts(step.start_time),
            "end_time": ts(step.end_time),
            "latest_heartbeat": ts(step.latest_heartbeat),
            "model_version_id": id_or_none(step.model_version_id),
            "resource_request_id": None,
            "substitutions": step.substitutions or {},
            "heartbeat_threshold": step.heartbeat_threshold,
        }

    def metadata(self, step) -> dict:
        snapshot_id = self.snapshot_of.get(step.pipeline_run_id)
        config, spec = step_configuration(step, self.snapshot_steps.get(snapshot_id) or {})
        return {
            "config": config,
            "spec": spec,
            "cache_key": step.cache_key,
            "cache_expires_at": ts(step.cache_expires_at),
            "code_hash": step.code_hash,
            "docstring": step.docstring,
            "source_code": step.source_code,
            "exception_info": step.exception_info,
            "snapshot_id": id_or_none(snapshot_id),
            "pipeline_run_id": str(step.pipeline_run_id),
            "original_step_run_id": id_or_none(step.original_step_run_id),
            "parent_step_ids": [str(parent) for parent in self.parents[step.pk]],
            "run_metadata": self.run_metadata.get(step.pk, {}),
        }

    def resources(self, step) -> dict:
        return {
            "user": nested_user(step.user),
            "log_collection": [nested(LogsEnvelope, logs) for logs in self.logs[step.pk]],
            "model_version": nested(ModelVersionEnvelope, step.model_version, self),
            "inputs": step_inputs(self.inputs[step.pk], self),
            "outputs": step_outputs(self.outputs[step.pk], self),
            "resource_request": None,
        }

    @classmethod
    def prefetch(cls, queryset, hydrate):
        """The page of steps; `load` brings their links, logs and parents."""
        queryset = queryset.select_related("model_version__model")
        return queryset.annotate(run_snapshot_id=F("pipeline_run__snapshot_id")) if hydrate else queryset


def step_inputs(links, within=None) -> dict:
    """{input name: [artifact version + how it was consumed]} (ZenML's StepRunInputResponse) of a
    step's input links."""
    inputs = defaultdict(list)
    for link in links:
        item = nested(ArtifactVersionEnvelope, link.artifact_version, within)
        item.update(input_type=link.type, index=len(inputs[link.name]), chunk_index=None, chunk_size=None)
        inputs[link.name].append(item)
    return dict(inputs)


def step_outputs(links, within=None) -> dict:
    outputs = defaultdict(list)
    for link in links:
        outputs[link.name].append(nested(ArtifactVersionEnvelope, link.artifact_version, within))
    return dict(outputs)
