"""Generating pipeline runs in bulk: each run with its steps, artifact versions (with
visualizations and producer/consumer links), logs, metadata, tags and model versions.

Rows are dicts written with core.bulk.insert_rows, one transaction per batch. That skips save(),
so this module does what save() would: it sets `tenant` on every row, numbers runs, artifact
versions and model versions itself, and moves the parents' counters past the numbers it used
while holding their rows locked, so concurrent API writers continue after them.
"""

import hashlib
import itertools
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from core.bulk import insert_rows
from mlmeta.choices import (
    ExecutionStatus,
    MetadataResourceType,
    ModelStage,
    StepRunInputArtifactType,
    TaggableResourceType,
)
from mlmeta.demo import catalog
from mlmeta.demo.fixtures import Fixtures
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    ArtifactVisualization,
    Logs,
    Model,
    ModelVersion,
    ModelVersionArtifact,
    ModelVersionPipelineRun,
    Pipeline,
    PipelineRun,
    RunMetadata,
    StepRun,
    StepRunInput,
    StepRunOutput,
    TagResource,
)

VISUALIZATION_FILES = {"csv": "describe.csv", "html": "report.html", "markdown": "summary.md", "json": "data.json"}
FAILURE_RATE = 0.07
CACHE_HIT_RATE = 0.4
# The `branch` metadata of every run: main for half the runs, dev for a third, a feature branch for the rest.
BRANCHES = ("main", "main", "main", "dev", "dev", "feature/tuning")
StepParent = StepRun.parents.through
# Tables in the order they are written (referenced rows first).
TABLES = (
    ModelVersion,
    PipelineRun,
    StepRun,
    StepParent,
    ArtifactVersion,
    ArtifactVisualization,
    StepRunOutput,
    StepRunInput,
    ModelVersionArtifact,
    ModelVersionPipelineRun,
    Logs,
    RunMetadata,
    TagResource,
)
PROJECT_OWNED = {ModelVersion, PipelineRun, StepRun, ArtifactVersion, Logs, RunMetadata}


@dataclass
class PlannedRun:
    pipeline: catalog.PipelineDef
    start: datetime
    status: str  # completed, failed or running
    last_step: str | None = None  # the step that failed or is running; later steps have not started


def plan_runs(rng: random.Random, count: int, days: float, now: datetime) -> list[PlannedRun]:
    """`count` runs in time order over the past `days`: mostly completed, some failed, and the
    newest few still running."""
    pipelines = catalog.PIPELINES
    weights = [p.weight for p in pipelines]
    running = min(5, max(1, count // 20)) if count else 0
    window = int(days * 86_400_000_000)
    # Finished runs are at least two hours old, longer than any demo run takes.
    planned = [
        PlannedRun(rng.choices(pipelines, weights)[0], now - timedelta(microseconds=offset), ExecutionStatus.COMPLETED)
        for offset in sorted((rng.randrange(7_200_000_000, window) for _ in range(count - running)), reverse=True)
    ]
    for run in planned:
        if rng.random() < FAILURE_RATE:
            run.status, run.last_step = ExecutionStatus.FAILED, rng.choice(run.pipeline.steps).name
    planned += sorted((_plan_running(rng, rng.choices(pipelines, weights)[0], now) for _ in range(running)), key=_start)
    _make_times_unique(planned)
    return planned


def _plan_running(rng: random.Random, pipeline: catalog.PipelineDef, now: datetime) -> PlannedRun:
    """A run busy with one of its steps, started early enough for the steps before it to be done."""
    position = rng.randrange(len(pipeline.steps))
    before = sum(step.duration[1] + 5 for step in pipeline.steps[:position])
    start = now - timedelta(seconds=before + rng.uniform(60, 1800))
    return PlannedRun(pipeline, start, ExecutionStatus.RUNNING, pipeline.steps[position].name)


def _start(run: PlannedRun) -> datetime:
    return run.start


def _make_times_unique(planned: list[PlannedRun]) -> None:
    """Run names carry the start time to the microsecond; keep them strictly increasing."""
    for before, after in itertools.pairwise(planned):
        if after.start <= before.start:
            after.start = before.start + timedelta(microseconds=1)


class RunWriter:
    """Turns planned runs into rows, batch by batch."""

    def __init__(self, fx: Fixtures, rng: random.Random, now: datetime):
        self.fx = fx
        self.rng = rng
        self.now = now
        self.owner = {"tenant_id": fx.tenant_id, "project_id": fx.project.id, "user_id": fx.user and fx.user.pk}
        self.cache: dict[str, tuple[dict, dict[str, uuid.UUID]]] = {}  # cache key -> (step, its outputs)
        # (model version, its model artifact version) that batch inference loads
        self.production = _production_model(fx)
        self.completed_versions: list[uuid.UUID] = []
        self.rows = 0

    def write(self, planned: list[PlannedRun]) -> None:
        with transaction.atomic():
            self.counters = _lock_counters(self.fx)
            self.tables: dict[type, list[dict]] = defaultdict(list)
            taken = _taken_names(self.fx, [_run_name(run) for run in planned])
            for run in planned:
                self.add_run(run, taken)
            for model in TABLES:
                self.rows += insert_rows(model, self.tables[model])
            self.counters.save()

    def finish(self) -> None:
        """Give the trained model its stages: the newest completed version in staging, the one
        before it in production, earlier ones archived."""
        if not self.completed_versions:
            return
        model = self.fx.models[catalog.TRAINING.model]
        with transaction.atomic():
            ModelVersion.objects.filter(model=model, stage__in=[ModelStage.PRODUCTION, ModelStage.STAGING]).update(
                stage=ModelStage.ARCHIVED
            )
            newest = self.completed_versions[-2:][::-1]
            for version_id, stage in zip(newest, (ModelStage.STAGING, ModelStage.PRODUCTION), strict=False):
                ModelVersion.objects.filter(pk=version_id).update(stage=stage)

    def add(self, model: type, **values) -> dict:
        """A new row of `model`, owned like every row of the demo project."""
        if model in PROJECT_OWNED:
            values = {"id": uuid.uuid4(), **self.owner, **values}
        elif model is not StepParent:
            values = {"tenant_id": self.fx.tenant_id, **values}
        if "created" in values:
            values.setdefault("updated", values["created"])
        self.tables[model].append(values)
        return values

    # Runs and steps ----------------------------------------------------------------------------

    def add_run(self, planned: PlannedRun, taken: set[str]) -> None:
        definition = planned.pipeline
        pipeline = self.fx.pipelines[definition.name]
        index = self.counters.next(Pipeline, pipeline.id)
        name = _run_name(planned)
        run = self.add(
            PipelineRun,
            created=planned.start,
            name=f"{name}_{index}" if name in taken else name,
            pipeline_id=pipeline.id,
            snapshot_id=self.fx.snapshots[definition.name].id,
            stack_id=self.fx.stack.id,
            schedule_id=self.fx.schedule.id if definition.scheduled else None,
            index=index,
            status=planned.status,
            orchestrator_run_id=str(uuid.uuid4()),
            start_time=planned.start,
            orchestrator_environment=catalog.ENVIRONMENT,
            client_environment=catalog.ENVIRONMENT,
            enable_heartbeat=True,
            model_version_id=None,
        )
        self.add_logs(run["created"], "client", pipeline_run_id=run["id"])
        self.link_model(run, definition)
        steps, produced = self.add_steps(run, planned)
        if planned.status != ExecutionStatus.RUNNING:
            run["end_time"] = run["updated"] = max(step["end_time"] for step in steps.values())
        self.add_run_metadata(run, definition, steps, produced)
        self.add_tags(run, definition)

    def add_steps(self, run: dict, planned: PlannedRun) -> tuple[dict[str, dict], dict[str, dict]]:
        """The run's steps in DAG order, up to the one that failed or is running. Returns the steps
        and {step: {output: artifact version id}} of the steps that produced outputs."""
        produced: dict[str, dict[str, uuid.UUID]] = {}
        steps: dict[str, dict] = {}
        for definition in planned.pipeline.steps:
            ready = max([run["start_time"]] + [steps[up]["end_time"] for up in definition.upstream])
            start = ready + timedelta(seconds=self.rng.uniform(0.5, 4))
            steps[definition.name] = self.add_step(run, planned, definition, start, steps, produced)
            if definition.name == planned.last_step:
                break
        return steps, produced

    def add_step(self, run, planned, definition, start, steps, produced) -> dict:
        pipeline = planned.pipeline
        cache_key = self.cache_key(pipeline, definition, start)
        cached = self.cache.get(cache_key) if definition.cacheable and definition.name != planned.last_step else None
        if cached and self.rng.random() < CACHE_HIT_RATE:
            return self.add_cached_step(run, definition, start, cached, steps, produced)
        end = start + timedelta(seconds=self.rng.uniform(*definition.duration))
        status = ExecutionStatus.COMPLETED
        if definition.name == planned.last_step:
            status = planned.status
            end = None if status == ExecutionStatus.RUNNING else end
        step = self.add_step_row(run, definition, start, end, status, cache_key)
        self.link_inputs(step, pipeline, definition, produced)
        self.link_parents(step, definition, steps)
        self.add_logs(start, "step", step_run_id=step["id"])
        if status == ExecutionStatus.FAILED:
            step["exception_info"] = _exception_info(definition)
        if status == ExecutionStatus.COMPLETED:
            produced[definition.name] = self.add_outputs(run, step, pipeline, definition)
            if definition.cacheable:
                self.cache[cache_key] = (step, produced[definition.name])
        return step

    def add_cached_step(self, run, definition, start, cached, steps, produced) -> dict:
        original, outputs = cached
        step = self.add_step_row(run, definition, start, start, ExecutionStatus.CACHED, original["cache_key"])
        step["original_step_run_id"] = original["id"]
        self.link_parents(step, definition, steps)
        for output_name, version_id in outputs.items():
            self.add(StepRunOutput, step_run_id=step["id"], artifact_version_id=version_id, name=output_name)
        produced[definition.name] = outputs
        return step

    def add_step_row(self, run, definition, start, end, status, cache_key) -> dict:
        return self.add(
            StepRun,
            created=start,
            updated=end or start,
            pipeline_run_id=run["id"],
            name=definition.name,
            status=status,
            start_time=start,
            end_time=end,
            latest_heartbeat=end or self.now,
            heartbeat_threshold=30,
            cache_key=cache_key,
            code_hash=definition.code_hash(),
            source_code=definition.code,
        )

    def cache_key(self, pipeline, definition, start: datetime) -> str:
        if not definition.cacheable:
            return f"{self.rng.getrandbits(128):032x}"
        # A cacheable step reads the same data all day, so its key changes daily.
        seed = f"{pipeline.name}:{definition.name}:{start:%Y-%m-%d}"
        return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()

    def link_parents(self, step: dict, definition, steps: dict[str, dict]) -> None:
        for up in definition.upstream:
            self.add(StepParent, from_steprun_id=step["id"], to_steprun_id=steps[up]["id"])

    def link_inputs(self, step: dict, pipeline, definition, produced) -> None:
        for input_name, (up, output_name) in definition.inputs.items():
            self.add(
                StepRunInput, step_run_id=step["id"], artifact_version_id=produced[up][output_name], name=input_name
            )
        if pipeline.uses_model and definition.name == "predict" and self.production:
            self.add(
                StepRunInput,
                step_run_id=step["id"],
                artifact_version_id=self.production[1],
                name="model",
                type=StepRunInputArtifactType.LAZY_LOADED,
            )

    # Artifacts ---------------------------------------------------------------------------------

    def add_outputs(self, run, step, pipeline, definition) -> dict[str, uuid.UUID]:
        outputs = {}
        for output in definition.outputs:
            version = self.add_artifact_version(step, pipeline, definition, output)
            outputs[output.name] = version["id"]
            self.add(StepRunOutput, step_run_id=step["id"], artifact_version_id=version["id"], name=output.name)
            if run["model_version_id"] and output.name in ("model", "metrics"):
                self.add(
                    ModelVersionArtifact, model_version_id=run["model_version_id"], artifact_version_id=version["id"]
                )
        return outputs

    def add_artifact_version(self, step, pipeline, definition, output) -> dict:
        artifact = self.fx.artifacts[pipeline.name, definition.name, output.name]
        number = self.counters.next(Artifact, artifact.id)
        uri = f"{self.fx.store_path}/{definition.name}/{output.name}/{step['id']}/{self.rng.getrandbits(32):08x}"
        version = self.add(
            ArtifactVersion,
            created=step["end_time"],
            artifact_id=artifact.id,
            version=str(number),
            version_number=number,
            type=output.type,
            uri=uri,
            materializer=output.materializer,
            data_type=output.data_type,
            artifact_store_id=self.fx.artifact_store.id,
            content_hash=f"{self.rng.getrandbits(128):032x}",
            item_count=self.rng.randint(*output.items) if output.items else None,
        )
        for kind in output.visualizations:
            self.add(
                ArtifactVisualization,
                created=step["end_time"],
                artifact_version_id=version["id"],
                type=kind,
                uri=f"{uri}/{VISUALIZATION_FILES[kind]}",
            )
        size = {"storage_size": self.rng.randint(*output.size)}
        self.add_metadata(MetadataResourceType.ARTIFACT_VERSION, version["id"], size, step)
        return version

    # Models, metadata, tags, logs --------------------------------------------------------------

    def link_model(self, run: dict, definition: catalog.PipelineDef) -> None:
        if definition.model:
            model = self.fx.models[definition.model]
            number = self.counters.next(Model, model.id)
            version = self.add(ModelVersion, created=run["created"], model_id=model.id, name=str(number), number=number)
            run["model_version_id"] = version["id"]
        elif definition.uses_model and self.production:
            run["model_version_id"] = self.production[0]
        if run["model_version_id"]:
            self.add(
                ModelVersionPipelineRun,
                id=uuid.uuid4(),
                model_version_id=run["model_version_id"],
                pipeline_run_id=run["id"],
            )

    def add_run_metadata(self, run, definition, steps, produced) -> None:
        # Every run names its branch (a string to filter on); the pick reads the run's random id
        # rather than self.rng, so a seed yields the same runs as before.
        branch = BRANCHES[run["id"].int % len(BRANCHES)]
        self.add_metadata(MetadataResourceType.PIPELINE_RUN, run["id"], {"branch": branch})
        if run["status"] != ExecutionStatus.COMPLETED:
            return
        if not definition.model:
            key = "rows_written" if definition.scheduled else "rows_scored"
            self.add_metadata(MetadataResourceType.PIPELINE_RUN, run["id"], {key: self.rng.randint(10_000, 2_000_000)})
            return
        accuracy = round(self.rng.uniform(0.81, 0.95), 4)
        metrics = {
            "accuracy": accuracy,
            "f1": round(accuracy - self.rng.uniform(0.02, 0.08), 4),
            "loss": round(self.rng.uniform(0.12, 0.55), 4),
        }
        evaluate = steps["evaluate"]
        self.add_metadata(MetadataResourceType.PIPELINE_RUN, run["id"], metrics, evaluate)
        self.add_metadata(MetadataResourceType.STEP_RUN, evaluate["id"], metrics, evaluate)
        self.add_metadata(MetadataResourceType.MODEL_VERSION, run["model_version_id"], metrics, evaluate)
        self.production = (run["model_version_id"], produced["train"]["model"])
        self.completed_versions.append(run["model_version_id"])

    def add_metadata(self, resource_type: str, resource_id, values: dict, publisher: dict | None = None) -> None:
        created = (publisher["end_time"] or publisher["start_time"]) if publisher else self.now
        for key, value in values.items():
            self.add(
                RunMetadata,
                created=created,
                resource_type=resource_type,
                resource_id=resource_id,
                key=key,
                value=value,
                type="StorageSize" if key == "storage_size" else type(value).__name__,
                publisher_step_id=publisher["id"] if publisher else None,
            )

    def add_tags(self, run: dict, definition) -> None:
        if self.rng.random() >= (0.2 if definition.model else 0.05):
            return
        for tag in self.rng.sample(self.fx.tags, self.rng.randint(1, 2)):
            self.add(
                TagResource,
                created=run["created"],
                tag_id=tag.id,
                resource_type=TaggableResourceType.PIPELINE_RUN,
                resource_id=run["id"],
            )

    def add_logs(self, created: datetime, source: str, **target) -> None:
        log_id = uuid.uuid4()
        self.add(
            Logs,
            id=log_id,
            created=created,
            uri=f"{self.fx.store_path}/logs/{log_id}.log",
            source=source,
            artifact_store_id=self.fx.artifact_store.id,
            **target,
        )


COUNTER_FIELDS = {Pipeline: "run_counter", Artifact: "version_counter", Model: "version_counter"}


class Counters:
    """Per-parent counters (run index, version numbers), read with the parents' rows locked at
    the start of a batch and written back at its end."""

    def __init__(self, values: dict[tuple[type, uuid.UUID], int]):
        self.values = values
        self.start = dict(values)

    def next(self, model: type, pk) -> int:
        self.values[model, pk] += 1
        return self.values[model, pk]

    def save(self) -> None:
        for (model, pk), value in self.values.items():
            if value != self.start[model, pk]:
                model._base_manager.filter(pk=pk).update(**{COUNTER_FIELDS[model]: value})


def _lock_counters(fx: Fixtures) -> Counters:
    parents = {
        Pipeline: [p.id for p in fx.pipelines.values()],
        Artifact: [a.id for a in fx.artifacts.values()],
        Model: [m.id for m in fx.models.values()],
    }
    values = {}
    for model, pks in parents.items():
        rows = model._base_manager.select_for_update().filter(pk__in=pks).values_list("pk", COUNTER_FIELDS[model])
        values.update({(model, pk): value for pk, value in rows})
    return Counters(values)


def _production_model(fx: Fixtures) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The trained model's production version from an earlier seeding, if any."""
    link = (
        ModelVersionArtifact.objects.filter(
            model_version__model=fx.models[catalog.TRAINING.model],
            model_version__stage=ModelStage.PRODUCTION,
            artifact_version__artifact=fx.artifacts[catalog.TRAINING.name, "train", "model"],
        )
        .values_list("model_version_id", "artifact_version_id")
        .first()
    )
    return tuple(link) if link else None


def _run_name(run: PlannedRun) -> str:
    return f"{run.pipeline.name}-{run.start:%Y_%m_%d-%H_%M_%S_%f}"


def _taken_names(fx: Fixtures, names: list[str]) -> set[str]:
    return set(PipelineRun.objects.filter(project=fx.project, name__in=names).values_list("name", flat=True))


def _exception_info(definition) -> dict:
    kind, _, message = definition.failure.partition(": ")
    return {
        "traceback": (
            "Traceback (most recent call last):\n"
            f'  File "pipelines/{definition.name}.py", line 14, in {definition.name}\n'
            f"{definition.failure}\n"
        ),
        "source": f"builtins.{kind}",
        "message": message,
        "user_code_line": 14,
    }
