"""The model registry API: recorded steps 20/21, versions and stages, links, tags, isolation."""

import pytest

from mlmeta.choices import ModelStage
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Model,
    ModelVersion,
    ModelVersionArtifact,
    Pipeline,
    PipelineRun,
    TagResource,
)
from mlmeta.models.registry import StageTaken
from tenants import access
from tenants.models import Project, User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient
from tests.traffic import Replayer, envelope_keys, recorded

RECORDED_PROJECT = "73c5e66a-86f1-480c-8d1a-b1c43acbd6c7"
RECORDED_ADMIN = "339d3cc0-08b6-48be-9948-0adc101b3cfc"


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


@pytest.fixture
def other(db):
    tenant = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(tenant, charlie)
    return TenantClient(charlie, tenant)


@pytest.fixture
def model(project):
    return Model.objects.create(project=project, name="churn", description="predicts churn")


def create_version(api, model, **fields):
    body = {"project": str(model.project_id), "model": str(model.pk), **fields}
    response = api.post("/api/v1/model_versions", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_replay_recorded_model_steps(api, admin, project):
    replay = Replayer(api, {RECORDED_PROJECT: project.pk, RECORDED_ADMIN: admin.pk})
    [register] = recorded("20-model-register", "POST", "/models")
    model = replay.send(register).json()
    assert envelope_keys(model) == envelope_keys(register["resp_body"])
    assert model["metadata"] == register["resp_body"]["metadata"]
    assert model["resources"]["tags"] == [] and model["resources"]["latest_version_id"] is None

    [lookup] = recorded("21-model-version-create", "GET", "/models")
    page = replay.send(lookup).json()
    assert [item["id"] for item in page["items"]] == [model["id"]]

    [create] = recorded("21-model-version-create", "POST", "/model_versions")
    version = replay.send(create).json()
    expected = create["resp_body"]
    assert envelope_keys(version) == envelope_keys(expected)
    assert envelope_keys(version["body"]["model"]) == envelope_keys(expected["body"]["model"])
    assert version["body"]["number"] == 1 and version["name"] == "v1"
    assert version["resources"]["services"] == expected["resources"]["services"]
    assert version["metadata"] == {"description": "anchor version", "run_metadata": {}}

    hydrated = api.get(f"/api/v1/models/{model['id']}").json()
    assert hydrated["resources"]["latest_version_name"] == "v1"
    assert hydrated["resources"]["latest_version_id"] == version["id"]


def test_version_numbers_count_per_model(api, project, model):
    other_model = Model.objects.create(project=project, name="fraud")
    assert [create_version(api, model)["body"]["number"] for _ in range(3)] == [1, 2, 3]
    first_other = create_version(api, other_model)
    assert (first_other["body"]["number"], first_other["name"]) == (1, "1")
    duplicate = api.post(
        "/api/v1/model_versions", {"project": str(project.pk), "model": str(model.pk), "name": "2"}, format="json"
    )
    assert duplicate.status_code == 409


def test_model_name_conflict_is_409(api, project, model):
    response = api.post("/api/v1/models", {"project": str(project.pk), "name": "churn"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"][0] == "EntityExistsError"


def test_set_stage_archives_the_previous_holder(model, project):
    first = ModelVersion.objects.create(project=project, model=model)
    second = ModelVersion.objects.create(project=project, model=model)
    first.set_stage(ModelStage.PRODUCTION)
    with pytest.raises(StageTaken):
        second.set_stage(ModelStage.PRODUCTION)
    archived = second.set_stage(ModelStage.PRODUCTION, force=True)
    assert archived == first
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == (ModelStage.ARCHIVED, ModelStage.PRODUCTION)
    # Archived and "none" are not held by one version only.
    second.set_stage(ModelStage.ARCHIVED)
    assert ModelVersion.objects.filter(stage=ModelStage.ARCHIVED).count() == 2


def test_promote_through_the_api(api, model):
    v1, v2 = create_version(api, model), create_version(api, model)
    assert api.put(f"/api/v1/model_versions/{v1['id']}", {"stage": "production"}, format="json").status_code == 200
    refused = api.put(f"/api/v1/model_versions/{v2['id']}", {"stage": "production"}, format="json")
    assert refused.status_code == 409
    assert "force" in refused.json()["detail"][1]
    promoted = api.put(f"/api/v1/model_versions/{v2['id']}", {"stage": "production", "force": True}, format="json")
    assert promoted.json()["body"]["stage"] == "production"
    assert api.get(f"/api/v1/model_versions/{v1['id']}").json()["body"]["stage"] == "archived"
    staged = api.get(f"/api/v1/model_versions?model={model.pk}&stage=archived").json()
    assert [item["id"] for item in staged["items"]] == [v1["id"]]
    assert api.put(f"/api/v1/model_versions/{v1['id']}", {"stage": "bogus"}, format="json").status_code == 422


def test_versions_of_a_model_by_name_or_id(api, model, project):
    create_version(api, model, name="a")
    create_version(api, model, name="b")
    Model.objects.create(project=project, name="empty")
    for ref in (model.pk, "churn"):
        page = api.get(f"/api/v1/models/{ref}/model_versions?sort_by=number").json()
        assert [item["name"] for item in page["items"]] == ["a", "b"]
    assert api.get("/api/v1/model_versions?model_name_or_id=empty").json()["total"] == 0
    assert api.get("/api/v1/models/nothing/model_versions").status_code == 404


def test_tags_on_create_and_update(api, model, project):
    created = api.post(
        "/api/v1/models", {"project": str(project.pk), "name": "tagged", "tags": ["a", "b"]}, format="json"
    ).json()
    assert [t["name"] for t in created["resources"]["tags"]] == ["a", "b"]
    updated = api.put(
        f"/api/v1/models/{created['id']}", {"add_tags": ["c"], "remove_tags": ["a"], "license": "MIT"}, format="json"
    ).json()
    assert [t["name"] for t in updated["resources"]["tags"]] == ["b", "c"]
    assert updated["metadata"]["license"] == "MIT"
    assert [i["name"] for i in api.get("/api/v1/models?tags=c").json()["items"]] == ["tagged"]
    version = create_version(api, model, tags=["v-tag"])
    assert [t["name"] for t in version["resources"]["tags"]] == ["v-tag"]
    api.delete(f"/api/v1/models/{created['id']}")
    assert not TagResource.objects.filter(resource_type="model").exists()


def test_model_list_query_count_is_bounded(api, project, django_assert_max_num_queries):
    for i in range(10):
        created = api.post(
            "/api/v1/models", {"project": str(project.pk), "name": f"m{i}", "tags": [f"t{i}"]}, format="json"
        ).json()
        create_version(api, Model.objects.get(pk=created["id"]), tags=["x"])
    with django_assert_max_num_queries(8):
        assert api.get("/api/v1/models?hydrate=True&size=50").json()["total"] == 10
    with django_assert_max_num_queries(9):
        assert api.get("/api/v1/model_versions?hydrate=True&size=50").json()["total"] == 10


def make_artifact_version(project, name="data"):
    artifact, _ = Artifact.objects.get_or_create(project=project, name=name)
    return ArtifactVersion.objects.create(
        project=project, artifact=artifact, uri=f"/store/{name}", type="ModelArtifact"
    )


def make_run(project, name="run-1"):
    pipeline, _ = Pipeline.objects.get_or_create(project=project, name="training")
    return PipelineRun.objects.create(project=project, pipeline=pipeline, name=name)


def test_artifact_links(api, model, project):
    version = create_version(api, model)
    artifact_version = make_artifact_version(project)
    body = {"model_version": version["id"], "artifact_version": str(artifact_version.pk)}
    link = api.post("/api/v1/model_version_artifacts", body, format="json").json()
    assert api.post("/api/v1/model_version_artifacts", body, format="json").json()["id"] == link["id"]
    assert link["body"]["artifact_version"]["body"]["artifact"]["name"] == "data"
    assert set(link) == {"body", "metadata", "resources", "id", "permission_denied"}
    page = api.get(f"/api/v1/model_version_artifacts?model_version_id={version['id']}&only_model_artifacts=true")
    assert page.json()["total"] == 1
    assert api.get("/api/v1/model_version_artifacts?only_data_artifacts=true").json()["total"] == 0
    assert api.delete(f"/api/v1/model_versions/{version['id']}/artifacts/data").status_code == 200
    assert not ModelVersionArtifact.objects.exists()
    api.post("/api/v1/model_version_artifacts", body, format="json")
    assert api.delete(f"/api/v1/model_versions/{version['id']}/artifacts").status_code == 200
    assert not ModelVersionArtifact.objects.exists() and ArtifactVersion.objects.exists()
    api.post("/api/v1/model_version_artifacts", body, format="json")
    api.delete(f"/api/v1/model_versions/{version['id']}/artifacts?only_links=false")
    assert not ArtifactVersion.objects.exists()


def test_run_links(api, model, project):
    version = create_version(api, model)
    run = make_run(project)
    body = {"model_version": version["id"], "pipeline_run": str(run.pk)}
    link = api.post("/api/v1/model_version_pipeline_runs", body, format="json").json()
    assert link["body"]["pipeline_run"]["name"] == "run-1"
    assert link["body"]["pipeline_run"]["body"]["status"] == "initializing"
    page = api.get(f"/api/v1/model_version_pipeline_runs?pipeline_run_name=run-1&model_version_id={version['id']}")
    assert page.json()["total"] == 1
    assert api.delete(f"/api/v1/model_versions/{version['id']}/runs/{link['id']}").status_code == 200
    assert api.delete(f"/api/v1/model_versions/{version['id']}/runs/{link['id']}").status_code == 404


def test_models_are_isolated_between_tenants(api, other, model, project):
    version = create_version(api, model)
    run = make_run(project)
    link = api.post(
        "/api/v1/model_version_pipeline_runs",
        {"model_version": version["id"], "pipeline_run": str(run.pk)},
        format="json",
    ).json()
    for path in (f"/api/v1/models/{model.pk}", f"/api/v1/model_versions/{version['id']}", "/api/v1/models/churn"):
        assert other.get(path).status_code == 404
        assert other.put(path, {"description": "mine"}, format="json").status_code == 404
        assert other.delete(path).status_code == 404
    for path in ("/api/v1/models", "/api/v1/model_versions", "/api/v1/model_version_pipeline_runs"):
        assert other.get(path).json()["total"] == 0
    assert other.get(f"/api/v1/models/{model.pk}/model_versions").status_code == 404
    assert other.delete(f"/api/v1/model_versions/{version['id']}/runs/{link['id']}").status_code == 404
    # Charlie cannot create a version of Alice's model, nor link his own version to her run.
    theirs = Project.objects.get(tenant__slug="other")
    body = {"project": str(theirs.pk), "model": str(model.pk)}
    assert other.post("/api/v1/model_versions", body, format="json").status_code == 404
    own_model = other.post("/api/v1/models", {"project": str(theirs.pk), "name": "churn"}, format="json").json()
    own = other.post("/api/v1/model_versions", {"project": str(theirs.pk), "model": own_model["id"]}, format="json")
    body = {"model_version": own.json()["id"], "pipeline_run": str(run.pk)}
    assert other.post("/api/v1/model_version_pipeline_runs", body, format="json").status_code == 404
    body = {"project": str(project.pk), "name": "intruder"}
    assert other.post("/api/v1/models", body, format="json").status_code == 404
