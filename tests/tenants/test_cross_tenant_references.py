"""Ids of another tenant's rows inside request bodies: charlie, admin of tenant B, names tenant A's
rows while writing in B. Every such request is a 404 (or 422) with a ZenML error body, never a
500, and writes nothing. The same holds inside one tenant for rows of a project the caller
cannot read."""

import uuid
from datetime import UTC, datetime

import pytest

from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    CodeRepository,
    Logs,
    ModelVersion,
    Pipeline,
    PipelineBuild,
    PipelineRun,
    PipelineSnapshot,
    Schedule,
    Stack,
    StackComponent,
    StepRun,
    Tag,
)
from mlmeta.models import (
    Model as RegisteredModel,
)
from secrets_app.models import ServiceConnector
from tenants.models import AuditEvent, Project
from tests.api_helpers import TenantClient, bearer_client
from tests.api_world import build_world, fingerprint, is_zenml_error, member


@pytest.fixture
def worlds(tenant_a, tenant_b):
    a = build_world(tenant_a, member("alice", tenant_a, "tenant-admin"))
    b = build_world(tenant_b, member("charlie", tenant_b, "tenant-admin"))
    return a, b


def now() -> str:
    return datetime.now(UTC).isoformat()


def ids(world) -> dict:
    rows = {model: str(row.pk) for model, row in world.rows.items()}
    rows[ArtifactStore] = str(world.store.pk)
    return rows


class ArtifactStore:
    """Key of a world's artifact store among its ids."""


SOURCE = {"module": "m", "attribute": "M", "type": "internal"}


def snapshot_body(b, **override) -> dict:
    return {
        "project": b[Project],
        "run_name_template": "r",
        "pipeline_configuration": {"name": "p"},
        "stack": b[Stack],
        "pipeline": b[Pipeline],
        **override,
    }


def version_body(b, **override) -> dict:
    return {
        "project": b[Project],
        "artifact_id": b[Artifact],
        "type": "DataArtifact",
        "uri": "/store/beta/x",
        "materializer": SOURCE,
        "data_type": SOURCE,
        "save_type": "step_output",
        **override,
    }


def run_body(b, **override) -> dict:
    return {"project": b[Project], "name": "r2", "snapshot": b[PipelineSnapshot], "status": "running", **override}


# (label, method, path, body) with `a` and `b` the ids of tenant A's and tenant B's rows.
CASES = [
    (
        "stack with A's component",
        "post",
        lambda a, b: "/stacks",
        lambda a, b: {
            "name": "s",
            "components": {"orchestrator": [a[StackComponent]], "artifact_store": [b[ArtifactStore]]},
        },
    ),
    (
        "stack update to A's component",
        "put",
        lambda a, b: f"/stacks/{b[Stack]}",
        lambda a, b: {"components": {"orchestrator": [a[StackComponent]], "artifact_store": [b[ArtifactStore]]}},
    ),
    (
        "component with A's connector",
        "post",
        lambda a, b: "/components",
        lambda a, b: {
            "name": "c",
            "type": "orchestrator",
            "flavor": "local",
            "configuration": {},
            "connector": a[ServiceConnector],
        },
    ),
    (
        "component update to A's connector",
        "put",
        lambda a, b: f"/components/{b[StackComponent]}",
        lambda a, b: {"connector": a[ServiceConnector]},
    ),
    (
        "step with A's run",
        "post",
        lambda a, b: "/steps",
        lambda a, b: {
            "project": b[Project],
            "name": "s2",
            "start_time": now(),
            "status": "running",
            "pipeline_run_id": a[PipelineRun],
        },
    ),
    (
        "step reading A's artifact version",
        "post",
        lambda a, b: "/steps",
        lambda a, b: {
            "project": b[Project],
            "name": "s2",
            "start_time": now(),
            "status": "running",
            "pipeline_run_id": b[PipelineRun],
            "inputs": {"x": [a[ArtifactVersion]]},
        },
    ),
    (
        "step writing A's artifact version",
        "put",
        lambda a, b: f"/steps/{b[StepRun]}",
        lambda a, b: {"outputs": {"y": [a[ArtifactVersion]]}},
    ),
    (
        "step from A's original step",
        "post",
        lambda a, b: "/steps",
        lambda a, b: {
            "project": b[Project],
            "name": "s2",
            "start_time": now(),
            "status": "running",
            "pipeline_run_id": b[PipelineRun],
            "original_step_run_id": a[StepRun],
        },
    ),
    ("run of A's snapshot", "post", lambda a, b: "/runs", lambda a, b: run_body(b, snapshot=a[PipelineSnapshot])),
    (
        "run with A's parent",
        "post",
        lambda a, b: "/runs",
        lambda a, b: run_body(b, orchestrator_run_id="o", parent_run_id=a[PipelineRun]),
    ),
    (
        "run with A's original run",
        "post",
        lambda a, b: "/runs",
        lambda a, b: run_body(b, orchestrator_run_id="o", original_run_id=a[PipelineRun]),
    ),
    (
        "snapshot of A's pipeline",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(b, pipeline=a[Pipeline]),
    ),
    (
        "snapshot on A's stack",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(b, stack=a[Stack]),
    ),
    (
        "snapshot with A's build",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(b, build=a[PipelineBuild]),
    ),
    (
        "snapshot with A's schedule",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(b, schedule=a[Schedule]),
    ),
    (
        "snapshot from A's snapshot",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(b, source_snapshot=a[PipelineSnapshot]),
    ),
    (
        "snapshot with A's code repository",
        "post",
        lambda a, b: "/pipeline_snapshots",
        lambda a, b: snapshot_body(
            b, code_reference={"code_repository": a[CodeRepository], "commit": "c", "subdirectory": ""}
        ),
    ),
    (
        "build on A's stack",
        "post",
        lambda a, b: "/pipeline_builds",
        lambda a, b: {"project": b[Project], "is_local": True, "contains_code": True, "stack": a[Stack]},
    ),
    (
        "schedule on A's orchestrator",
        "post",
        lambda a, b: "/schedules",
        lambda a, b: {
            "project": b[Project],
            "name": "n",
            "active": True,
            "orchestrator_id": a[StackComponent],
            "pipeline_id": b[Pipeline],
        },
    ),
    (
        "run template of A's snapshot",
        "post",
        lambda a, b: "/run_templates",
        lambda a, b: {"project": b[Project], "name": "t2", "source_snapshot_id": a[PipelineSnapshot]},
    ),
    (
        "trigger watching A's pipeline",
        "post",
        lambda a, b: "/triggers",
        lambda a, b: {
            "type": "platform_event",
            "project": b[Project],
            "name": "t2",
            "source_entity": {"type": "pipeline", "id": a[Pipeline]},
            "target_events": ["run_completed"],
        },
    ),
    (
        "artifact version of A's artifact",
        "post",
        lambda a, b: "/artifact_versions",
        lambda a, b: version_body(b, artifact_id=a[Artifact]),
    ),
    (
        "artifact version in A's store",
        "post",
        lambda a, b: "/artifact_versions",
        lambda a, b: version_body(b, artifact_store_id=a[ArtifactStore]),
    ),
    (
        "batch with A's artifact",
        "post",
        lambda a, b: "/artifact_versions/batch",
        lambda a, b: [version_body(b), version_body(b, artifact_id=a[Artifact])],
    ),
    (
        "model version of A's model",
        "post",
        lambda a, b: "/model_versions",
        lambda a, b: {"project": b[Project], "model": a[RegisteredModel]},
    ),
    (
        "model version linked to A's artifact version",
        "post",
        lambda a, b: "/model_version_artifacts",
        lambda a, b: {"model_version": b[ModelVersion], "artifact_version": a[ArtifactVersion]},
    ),
    (
        "A's model version linked to an artifact version",
        "post",
        lambda a, b: "/model_version_artifacts",
        lambda a, b: {"model_version": a[ModelVersion], "artifact_version": b[ArtifactVersion]},
    ),
    (
        "model version linked to A's run",
        "post",
        lambda a, b: "/model_version_pipeline_runs",
        lambda a, b: {"model_version": b[ModelVersion], "pipeline_run": a[PipelineRun]},
    ),
    (
        "tag on A's run",
        "post",
        lambda a, b: "/tag_resources",
        lambda a, b: {"tag_id": b[Tag], "resource_id": a[PipelineRun], "resource_type": "pipeline_run"},
    ),
    (
        "A's tag on a run",
        "post",
        lambda a, b: "/tag_resources",
        lambda a, b: {"tag_id": a[Tag], "resource_id": b[PipelineRun], "resource_type": "pipeline_run"},
    ),
    (
        "tags off A's run",
        "delete",
        lambda a, b: "/tag_resources/batch",
        lambda a, b: [{"tag_id": a[Tag], "resource_id": a[PipelineRun], "resource_type": "pipeline_run"}],
    ),
    (
        "metadata on A's run",
        "post",
        lambda a, b: "/run-metadata",
        lambda a, b: {
            "project": b[Project],
            "resources": [{"id": a[PipelineRun], "type": "pipeline_run"}],
            "values": {"k": 1},
            "types": {"k": "int"},
        },
    ),
    (
        "metadata from A's component",
        "post",
        lambda a, b: "/run-metadata",
        lambda a, b: {
            "project": b[Project],
            "resources": [{"id": b[PipelineRun], "type": "pipeline_run"}],
            "values": {"k": 1},
            "types": {"k": "int"},
            "stack_component_id": a[StackComponent],
        },
    ),
    (
        "metadata published by A's step",
        "post",
        lambda a, b: "/run-metadata",
        lambda a, b: {
            "project": b[Project],
            "resources": [{"id": b[PipelineRun], "type": "pipeline_run"}],
            "values": {"k": 1},
            "types": {"k": "int"},
            "publisher_step_id": a[StepRun],
        },
    ),
    (
        "metadata in A's project",
        "post",
        lambda a, b: "/run-metadata",
        lambda a, b: {
            "project": a[Project],
            "resources": [{"id": b[PipelineRun], "type": "pipeline_run"}],
            "values": {"k": 1},
            "types": {"k": "int"},
        },
    ),
    (
        "logs of A's run",
        "post",
        lambda a, b: "/logs",
        lambda a, b: {"id": str(uuid.uuid4()), "project": b[Project], "pipeline_run_id": a[PipelineRun]},
    ),
    (
        "logs in A's store",
        "post",
        lambda a, b: "/logs",
        lambda a, b: {"id": str(uuid.uuid4()), "project": b[Project], "artifact_store_id": a[ArtifactStore]},
    ),
    ("logs moved to A's step", "put", lambda a, b: f"/logs/{b[Logs]}", lambda a, b: {"step_run_id": a[StepRun]}),
    ("model in A's project", "post", lambda a, b: "/models", lambda a, b: {"project": a[Project], "name": "m"}),
    ("pipeline in A's project", "post", lambda a, b: "/pipelines", lambda a, b: {"project": a[Project], "name": "p"}),
    (
        "prune A's project",
        "post",
        lambda a, b: "/pipeline_snapshots/prune",
        lambda a, b: {"project": a[Project], "older_than": now()},
    ),
]


@pytest.mark.parametrize("label,method,path,body", CASES, ids=[case[0] for case in CASES])
def test_ids_of_another_tenant_in_bodies_are_not_found(worlds, label, method, path, body):
    a, b = (ids(world) for world in worlds)
    api = TenantClient(worlds[1].member, worlds[1].tenant)
    api.client.raise_request_exception = False
    before = fingerprint(exclude=(AuditEvent,))
    response = getattr(api, method)(f"/api/v1{path(a, b)}", body(a, b), format="json")
    assert response.status_code in (404, 422), (label, response.status_code, response.content[:300])
    assert is_zenml_error(response), response.content[:300]
    assert fingerprint(exclude=(AuditEvent,)) == before, f"{label}: the database changed"


def test_the_cases_reach_past_validation(worlds):
    """The bodies are valid: with B's own rows in place of A's they succeed, so the 404s above come
    from the foreign ids and not from a malformed request."""
    b = ids(worlds[1])
    api = TenantClient(worlds[1].member, worlds[1].tenant)
    body = snapshot_body(b, code_reference={"code_repository": b[CodeRepository], "commit": "c", "subdirectory": ""})
    assert api.post("/api/v1/pipeline_snapshots", body, format="json").status_code == 200
    body = {"project": b[Project], "name": "s2", "start_time": now(), "status": "running"}
    body |= {"pipeline_run_id": b[PipelineRun], "inputs": {"x": [b[ArtifactVersion]]}}
    assert api.post("/api/v1/steps", body, format="json").status_code == 200
    link = {"model_version": b[ModelVersion], "artifact_version": b[ArtifactVersion]}
    assert api.post("/api/v1/model_version_artifacts", link, format="json").status_code == 200
    body = {"project": b[Project], "resources": [{"id": b[PipelineRun], "type": "pipeline_run"}]}
    body |= {"values": {"k": 1}, "types": {"k": "int"}, "stack_component_id": b[StackComponent]}
    assert api.post("/api/v1/run-metadata", body, format="json").status_code == 200


def test_ids_of_a_project_the_caller_cannot_read_are_not_found(worlds):
    """A project developer of `default` naming rows of the world's project in the same tenant."""
    world = worlds[0]
    default = Project.objects.get(tenant=world.tenant, name="default")
    dev = bearer_client(member("devon", world.tenant, "project-developer", project=default), world.tenant)
    a = ids(world)
    before = fingerprint(exclude=(AuditEvent,))
    requests = [
        ("/api/v1/pipeline_snapshots", snapshot_body({**a, Project: str(default.pk)})),
        ("/api/v1/runs", run_body({**a, Project: str(default.pk)})),
        ("/api/v1/model_versions", {"project": str(default.pk), "model": a[RegisteredModel]}),
        ("/api/v1/pipelines", {"project": a[Project], "name": "p"}),
    ]
    for path, body in requests:
        response = dev.post(path, body, format="json")
        assert response.status_code == 404, (path, response.content[:300])
    assert fingerprint(exclude=(AuditEvent,)) == before
