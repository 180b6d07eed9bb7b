"""`POST /run-metadata`: the recorded step 22, every target type, and tenant isolation."""

import pytest

from mlmeta.api.envelopes.common import run_metadata_by_resource
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Model,
    ModelVersion,
    Pipeline,
    PipelineRun,
    RunMetadata,
    Schedule,
    StepRun,
)
from tenants import access
from tenants.models import Project, User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient
from tests.traffic import Replayer, recorded

RECORDED_PROJECT = "73c5e66a-86f1-480c-8d1a-b1c43acbd6c7"
RECORDED_RUN = "ffe86c61-8645-416f-a45b-40fcf9d13494"


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


@pytest.fixture
def run(project):
    pipeline = Pipeline.objects.create(project=project, name="anchor_pipeline")
    return PipelineRun.objects.create(project=project, pipeline=pipeline, name="anchor_pipeline-run")


def body(project, resources, values, types=None):
    return {
        "project": str(project.pk),
        "resources": [{"id": str(pk), "type": kind} for kind, pk in resources],
        "stack_component_id": None,
        "values": values,
        "types": types if types is not None else {key: type(value).__name__ for key, value in values.items()},
        "publisher_step_id": None,
    }


def test_replay_recorded_run_metadata_step(api, admin, project, run):
    replay = Replayer(
        api, {RECORDED_PROJECT: project.pk, RECORDED_RUN: run.pk}, secrets={"anchor_score": 0.93, "anchor_note": "hi"}
    )
    [log] = recorded("22-run-metadata", "POST", "/run-metadata")
    response = replay.send(log)
    assert response.content == b"null" and response["Content-Type"] == "application/json"
    rows = RunMetadata.objects.filter(resource_type="pipeline_run", resource_id=run.pk)
    assert {(r.key, r.value, r.type) for r in rows} == {("anchor_score", 0.93, "float"), ("anchor_note", "hi", "str")}
    assert all(r.user == admin and r.tenant_id == project.tenant_id for r in rows)
    assert run_metadata_by_resource("pipeline_run", [run.pk])[run.pk] == {"anchor_score": 0.93, "anchor_note": "hi"}


def test_metadata_on_every_target_type(api, project, run):
    step = StepRun.objects.create(project=project, pipeline_run=run, name="trainer")
    artifact = Artifact.objects.create(project=project, name="data")
    artifact_version = ArtifactVersion.objects.create(project=project, artifact=artifact, uri="/x")
    model = Model.objects.create(project=project, name="m")
    model_version = ModelVersion.objects.create(project=project, model=model)
    schedule = Schedule.objects.create(project=project, name="nightly")
    targets = [
        ("pipeline_run", run.pk),
        ("step_run", step.pk),
        ("artifact_version", artifact_version.pk),
        ("model_version", model_version.pk),
        ("schedule", schedule.pk),
    ]
    values = {"accuracy": 0.9, "epochs": 3, "labels": ["a", "b"], "config": {"lr": 0.1}, "ok": True}
    response = api.post("/api/v1/run-metadata", body(project, targets, values), format="json")
    assert response.status_code == 200, response.content
    assert RunMetadata.objects.count() == 25
    shown = api.get(f"/api/v1/model_versions/{model_version.pk}").json()["metadata"]["run_metadata"]
    assert shown == values


def test_later_values_win(api, project, run):
    api.post("/api/v1/run-metadata", body(project, [("pipeline_run", run.pk)], {"score": 1}), format="json")
    api.post("/api/v1/run-metadata", body(project, [("pipeline_run", run.pk)], {"score": 2}), format="json")
    assert run_metadata_by_resource("pipeline_run", [run.pk])[run.pk] == {"score": 2}


def test_missing_target_or_type_is_refused(api, project, run):
    missing = body(project, [("step_run", run.pk)], {"x": 1})
    response = api.post("/api/v1/run-metadata", missing, format="json")
    assert response.status_code == 404 and "step run" in response.json()["detail"][1]
    untyped = body(project, [("pipeline_run", run.pk)], {"x": 1}, types={})
    assert api.post("/api/v1/run-metadata", untyped, format="json").status_code == 422
    bad_type = body(project, [("pipeline_run", run.pk)], {"x": 1}, types={"x": "complex"})
    assert api.post("/api/v1/run-metadata", bad_type, format="json").status_code == 422
    unknown = body(project, [("wait_condition", run.pk)], {"x": 1})
    assert api.post("/api/v1/run-metadata", unknown, format="json").status_code == 404
    assert not RunMetadata.objects.exists()


def test_metadata_cannot_target_another_tenant(project, run, db):
    other = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(other, charlie)
    client = TenantClient(charlie, other)
    theirs = Project.objects.get(tenant=other, name="default")
    response = client.post("/api/v1/run-metadata", body(theirs, [("pipeline_run", run.pk)], {"x": 1}), format="json")
    assert response.status_code == 404
    into_foreign_project = body(project, [("pipeline_run", run.pk)], {"x": 1})
    assert client.post("/api/v1/run-metadata", into_foreign_project, format="json").status_code == 404
    assert not RunMetadata.objects.exists()
