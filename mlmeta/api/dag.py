"""`GET /runs/{id}/dag`: the run's steps and artifacts as nodes, data flow as edges (ZenML's
PipelineRunDAG). Steps of the snapshot that have not run yet appear without an id."""

from django.db.models import Prefetch

from core.api.timestamps import ts
from mlmeta.api.envelopes.common import run_metadata_by_resource
from mlmeta.choices import ExecutionStatus, MetadataResourceType
from mlmeta.models import StepRunInput, StepRunOutput


def _clean(name: str) -> str:
    return name.replace("/", "-")


def step_node_id(name: str) -> str:
    return f"step/{_clean(name)}"


def artifact_node_id(name: str, step_name: str, io_type: str, is_input: bool) -> str:
    return f"{_clean(step_name)}/{'inputs' if is_input else 'outputs'}/{io_type}/{_clean(name)}"


class DAG:
    def __init__(self):
        self.nodes: dict[str, dict] = {}
        self.edges: list[dict] = []

    def node(self, node_id: str, kind: str, name: str, pk=None, **metadata) -> None:
        self.nodes.setdefault(node_id, {"node_id": node_id, "type": kind, "id": pk, "name": name, "metadata": metadata})

    def edge(self, source: str, target: str, **metadata) -> None:
        if not any(e["source"] == source and e["target"] == target for e in self.edges):
            self.edges.append({"source": source, "target": target, "metadata": metadata})


def _steps(run):
    links = "artifact_version__artifact"
    steps = run.steps.exclude(status=ExecutionStatus.RETRIED).prefetch_related(
        Prefetch("input_links", queryset=StepRunInput.objects.select_related(links).order_by("created")),
        Prefetch("output_links", queryset=StepRunOutput.objects.select_related(links).order_by("created")),
    )
    latest = {}
    for step in steps.order_by("version"):
        latest[step.name] = step
    return latest


def _step_metadata(step, keys, values) -> dict:
    duration = None
    if step.start_time and step.end_time:
        duration = (step.end_time - step.start_time).total_seconds()
    metadata = {"status": step.status, "start_time": ts(step.start_time), "duration": duration}
    metadata.update({key: values[key] for key in keys if key in values})
    return metadata


def _artifact_metadata(version) -> dict:
    return {"artifact_name": version.artifact.name, "artifact_type": version.type, "save_type": version.save_type}


def run_dag(run, metadata_keys=()) -> dict:
    steps = _steps(run)
    spec = ((run.snapshot.pipeline_spec if run.snapshot else None) or {}).get("steps") or []
    dag = DAG()
    values = (
        run_metadata_by_resource(MetadataResourceType.STEP_RUN, [s.pk for s in steps.values()]) if metadata_keys else {}
    )
    produced = {}
    for step in steps.values():
        dag.node(
            step_node_id(step.name),
            "step",
            step.name,
            str(step.pk),
            **_step_metadata(step, metadata_keys, values.get(step.pk, {})),
        )
        for link in step.output_links.all():
            node_id = artifact_node_id(link.name, step.name, link.artifact_version.save_type, is_input=False)
            dag.node(
                node_id,
                "artifact",
                link.name,
                str(link.artifact_version_id),
                **_artifact_metadata(link.artifact_version),
            )
            dag.edge(step_node_id(step.name), node_id)
            produced[link.artifact_version_id] = node_id
    for item in spec:
        name = item.get("invocation_id")
        if name and name not in steps:
            dag.node(step_node_id(name), "step", name, None, status=None)
    for step in steps.values():
        _link_inputs(dag, step, produced)
    _link_upstream(dag, spec)
    return {"id": str(run.pk), "status": run.status, "nodes": list(dag.nodes.values()), "edges": dag.edges}


def _link_inputs(dag, step, produced) -> None:
    for link in step.input_links.all():
        source = produced.get(link.artifact_version_id)
        if source is None:  # an artifact from outside this run
            source = artifact_node_id(link.name, step.name, link.type, is_input=True)
            dag.node(
                source,
                "artifact",
                link.name,
                str(link.artifact_version_id),
                **_artifact_metadata(link.artifact_version),
            )
        dag.edge(source, step_node_id(step.name))


def _link_upstream(dag, spec) -> None:
    """Order-only dependencies (`after=`) without an artifact between the steps."""
    fed = {(e["source"].split("/")[0], e["target"]) for e in dag.edges}
    for item in spec:
        target = step_node_id(item.get("invocation_id", ""))
        for upstream in item.get("upstream_steps") or []:
            if (_clean(upstream), target) not in fed:
                dag.edge(step_node_id(upstream), target)
