"""Shared setup of the pipeline-run API tests: a tenant seeded like a fresh server, a member with
an API client, and the recorded ZenML pipeline scenarios replayed against it."""

from mlmeta.models import Stack
from tenants import access
from tenants.models import Project, User
from tests.conftest import PASSWORD
from tests.traffic import Replayer, exchanges

RECORDED_PROJECT = "73c5e66a-86f1-480c-8d1a-b1c43acbd6c7"
RECORDED_STACK = "4ff80704-08ee-4d52-bef2-f0b6cfaca6e2"
RECORDED_USER = "339d3cc0-08b6-48be-9948-0adc101b3cfc"
RECORDED_COMPONENTS = {
    "orchestrator": "8a09af42-8071-45db-b551-58279a0e2aae",
    "deployer": "524477ba-c79a-45dd-b94c-602d7e525ab9",
    "artifact_store": "8c460f2c-b4a3-43b6-ae2d-fc0bca1324d5",
}
RECORDED_RUN = "ffe86c61-8645-416f-a45b-40fcf9d13494"
PIPELINE_RUN = "11-pipeline-run"
CACHED_RUN = "24-pipeline-run-cached"

# Endpoints of this API part: their responses must have the recorded shape.
OWN_PREFIXES = (
    "/api/v1/runs",
    "/api/v1/steps",
    "/api/v1/artifact_versions",
    "/api/v1/pipelines",
    "/api/v1/pipeline_snapshots",
    "/api/v1/logs",
    "/api/v1/code_repositories",
)


def member(tenant, username: str = "admin", **extra) -> User:
    user = User.objects.create_user(username, password=PASSWORD, **extra)
    access.add_member(tenant, user)
    return user


def seeded_ids(tenant, user) -> dict:
    """Recorded ids of what a fresh server has (project, stack, components, user) -> ours."""
    stack = Stack.objects.get(tenant=tenant, name="default")
    ids = {
        RECORDED_PROJECT: Project.objects.get(tenant=tenant, name="default").pk,
        RECORDED_STACK: stack.pk,
        RECORDED_USER: user.pk,
    }
    for component in stack.components.all():
        ids[RECORDED_COMPONENTS[component.type]] = component.pk
    return ids


def scenario(step: str) -> list[dict]:
    """A scenario's exchanges, without the 401 round trips of the client's auth dance."""
    return [e for e in exchanges() if e["scenario_step"] == step and e["status"] != 401]


def replay(replayer: Replayer, step: str) -> list[tuple[dict, dict]]:
    """Send a scenario's requests (each must get the recorded status); returns (exchange, answer)."""
    return [(exchange, replayer.send(exchange).json()) for exchange in scenario(step)]


def is_own(exchange: dict) -> bool:
    return exchange["path"].startswith(OWN_PREFIXES)


def shape(value, depth: int = 0):
    """Keys of an answer, recursively (dict keys; first item of lists), for shape comparisons.

    Free-form payloads the client sends and gets echoed (configurations, environments, run
    metadata, specs) are compared as opaque values."""
    if isinstance(value, dict):
        if depth > 6:
            return "{...}"
        return {key: shape(item, depth + 1) if key not in OPAQUE else "*" for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0], depth + 1)] if value else []
    return "-"


OPAQUE = {
    "config",
    "spec",
    "pipeline_configuration",
    "step_configurations",
    "client_environment",
    "orchestrator_environment",
    "pipeline_spec",
    "run_metadata",
    "substitutions",
    "materializer",
    "data_type",
}


def step_config(name: str, upstream=()) -> dict:
    config = {"name": name, "parameters": {}, "substitutions": {}, "outputs": {}}
    return {
        "spec": {
            "source": {"module": "pipes", "attribute": name, "type": "user"},
            "upstream_steps": list(upstream),
            "inputs": {},
            "invocation_id": name,
        },
        "config": config,
        "step_config_overrides": config,
    }


class PipelineApi:
    """Builds pipelines, snapshots, runs, steps and artifact versions through the API, as the
    ZenML client does, with the bodies it sends."""

    def __init__(self, client, tenant, prefix: str = ""):
        self.client = client
        self.prefix = prefix
        self.project = str(Project.objects.get(tenant=tenant, name="default").pk)
        stack = Stack.objects.get(tenant=tenant, name="default")
        self.stack = str(stack.pk)
        self.artifact_store = str(stack.components.get(type="artifact_store").pk)

    def call(self, method: str, path: str, body=None, status: int = 200):
        response = getattr(self.client, method)(f"{self.prefix}/api/v1{path}", body, format="json")
        assert response.status_code == status, (method, path, response.status_code, response.content[:500])
        return response.json()

    def pipeline(self, name: str = "train") -> dict:
        return self.call("post", "/pipelines", {"project": self.project, "name": name})

    def snapshot(self, pipeline: dict, steps=("load", "fit"), **extra) -> dict:
        configurations = {}
        for position, name in enumerate(steps):
            configurations[name] = step_config(name, steps[:position][-1:])
        body = {
            "project": self.project,
            "run_name_template": f"{pipeline['name']}-{{date}}-{{time}}",
            "pipeline_configuration": {"name": pipeline["name"], "substitutions": {}},
            "step_configurations": configurations,
            "client_environment": {"os": "linux", "python_packages": "zenml==0.98.0"},
            "client_version": "0.98.0",
            "server_version": "0.98.0",
            "pipeline_spec": {"version": "0.5", "steps": [c["spec"] for c in configurations.values()]},
            "stack": self.stack,
            "pipeline": pipeline["id"],
            **extra,
        }
        return self.call("post", "/pipeline_snapshots", body)

    def run(self, snapshot: dict, name: str, status: str = "initializing", orchestrator_run_id=None, **extra):
        body = {
            "project": self.project,
            "name": name,
            "snapshot": snapshot["id"],
            "status": status,
            "orchestrator_run_id": orchestrator_run_id,
            "start_time": "2026-11-28T02:21:32.255424",
            **extra,
        }
        return self.call("post", "/runs", body)

    def step(self, run: dict, name: str, status: str = "running", **extra) -> dict:
        body = {
            "project": self.project,
            "name": name,
            "start_time": "2026-11-28T02:21:33.000000",
            "status": status,
            "pipeline_run_id": run["id"],
            "parent_step_ids": [],
            "inputs": {},
            "outputs": {},
            **extra,
        }
        return self.call("post", "/steps", body)

    def version_body(self, artifact_name: str, **extra) -> dict:
        return {
            "project": self.project,
            "artifact_name": artifact_name,
            "type": "DataArtifact",
            "artifact_store_id": self.artifact_store,
            "uri": f"/stores/{self.artifact_store}/{artifact_name}",
            "materializer": {"module": "zenml.materializers", "attribute": "BuiltInMaterializer", "type": "internal"},
            "data_type": {"module": "builtins", "attribute": "int", "type": "builtin"},
            "save_type": "step_output",
            **extra,
        }

    def versions(self, *names: str, **extra) -> list[dict]:
        return self.call("post", "/artifact_versions/batch", [self.version_body(n, **extra) for n in names])
