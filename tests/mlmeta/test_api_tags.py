"""Tags and tag_resources: the recorded step 23-tag, exclusivity, batches and tenant isolation."""

import pytest

from mlmeta.models import Model, ModelVersion, Pipeline, PipelineRun, Tag, TagResource
from mlmeta.tagging import apply_tags, remove_tags
from tenants import access
from tenants.models import User
from tenants.services import create_tenant
from tests.api_helpers import TenantClient
from tests.traffic import Replayer, envelope_keys, recorded

RECORDED_RUN = "ffe86c61-8645-416f-a45b-40fcf9d13494"
RECORDED_ADMIN = "339d3cc0-08b6-48be-9948-0adc101b3cfc"


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password="x" * 12)
    access.add_member(tenant, user)
    return user


def make_run(project, name="run-1", pipeline_name="training"):
    pipeline, _ = Pipeline.objects.get_or_create(project=project, name=pipeline_name)
    return PipelineRun.objects.create(project=project, pipeline=pipeline, name=name)


@pytest.fixture
def other(db):
    tenant = create_tenant("other")
    charlie = User.objects.create_user("charlie", password="x" * 12)
    access.add_member(tenant, charlie)
    return TenantClient(charlie, tenant)


def test_replay_recorded_tag_step(api, admin, project):
    run = make_run(project)
    replay = Replayer(api, {RECORDED_RUN: run.pk, RECORDED_ADMIN: admin.pk})
    [register] = recorded("23-tag", "POST", "/tags", 200)
    created = replay.send(register).json()
    assert envelope_keys(created) == envelope_keys(register["resp_body"])
    assert created["body"]["color"] == "lime" and created["metadata"] == {"tagged_count": 0}

    [conflict] = recorded("23-tag", "POST", "/tags", 409)
    assert replay.send(conflict).json() == conflict["resp_body"]

    [lookup] = recorded("23-tag", "GET", "/tags")
    page = replay.send(lookup).json()
    assert page["total"] == 1 and page["items"][0]["id"] == created["id"]

    [batch] = recorded("23-tag", "POST", "/tag_resources/batch")
    links = replay.send(batch).json()
    assert [envelope_keys(link) for link in links] == [envelope_keys(link) for link in batch["resp_body"]]
    assert links[0]["body"]["resource_id"] == str(run.pk)
    assert TagResource.objects.filter(resource_type="pipeline_run", resource_id=run.pk).count() == 1
    assert api.get(f"/api/v1/tags/{created['id']}").json()["metadata"]["tagged_count"] == 1


def test_create_tag_validation_matches_recording(api):
    [probe] = recorded("30-http-probes", "POST", "/tags")
    response = api.post("/api/v1/tags", probe["req_body"], format="json")
    assert response.status_code == 422
    assert "'loc': ('body', 'name'), 'msg': 'Field required'" in response.json()[1]


def test_batch_tagging_is_idempotent(api, project):
    run = make_run(project)
    tag = api.post("/api/v1/tags", {"name": "nightly"}, format="json").json()
    body = [{"tag_id": tag["id"], "resource_id": str(run.pk), "resource_type": "pipeline_run"}]
    first = api.post("/api/v1/tag_resources/batch", body, format="json").json()
    again = api.post("/api/v1/tag_resources/batch", body, format="json").json()
    assert first[0]["id"] == again[0]["id"]
    assert api.delete("/api/v1/tag_resources/batch", body, format="json").json() is None
    assert not TagResource.objects.exists()


def test_single_tag_resource_create_and_delete(api, project):
    run = make_run(project)
    tag = api.post("/api/v1/tags", {"name": "single"}, format="json").json()
    body = {"tag_id": tag["id"], "resource_id": str(run.pk), "resource_type": "pipeline_run"}
    link = api.post("/api/v1/tag_resources", body, format="json").json()
    assert "name" not in link and link["body"]["tag_id"] == tag["id"]
    assert api.delete("/api/v1/tag_resources", body, format="json").status_code == 200
    assert api.delete("/api/v1/tag_resources", body, format="json").status_code == 404


def test_tagging_a_missing_resource_is_404(api):
    tag = api.post("/api/v1/tags", {"name": "orphan"}, format="json").json()
    body = [{"tag_id": tag["id"], "resource_id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "resource_type": "model"}]
    response = api.post("/api/v1/tag_resources/batch", body, format="json")
    assert response.status_code == 404
    assert response.json()["detail"][0] == "KeyError"


def test_exclusive_tag_moves_between_runs_of_a_pipeline(tenant, admin, project):
    first, second = make_run(project, "a"), make_run(project, "b")
    elsewhere = make_run(project, "c", pipeline_name="inference")
    Tag.objects.create(tenant=tenant, name="production", exclusive=True)
    apply_tags(tenant, admin, "pipeline_run", first.pk, ["production"])
    apply_tags(tenant, admin, "pipeline_run", elsewhere.pk, ["production"])
    apply_tags(tenant, admin, "pipeline_run", second.pk, ["production"])
    tagged = set(TagResource.objects.filter(tag__name="production").values_list("resource_id", flat=True))
    assert tagged == {second.pk, elsewhere.pk}


def test_exclusive_model_tag_sits_on_one_model(tenant, admin, project):
    models = [Model.objects.create(project=project, name=f"m{i}") for i in range(2)]
    apply_tags(tenant, admin, "model", models[0].pk, [{"name": "champion", "exclusive": True}])
    apply_tags(tenant, admin, "model", models[1].pk, ["champion"])
    assert list(TagResource.objects.values_list("resource_id", flat=True)) == [models[1].pk]


def test_apply_and_remove_tags_helper(tenant, admin, project):
    model = Model.objects.create(project=project, name="m")
    tags = apply_tags(tenant, admin, "model", model.pk, ["a", "b", "a"])
    assert [t.name for t in tags] == ["a", "b"]
    assert Tag.objects.get(name="a").user == admin
    remove_tags(tenant, "model", model.pk, ["a", "unknown"])
    assert list(TagResource.objects.values_list("tag__name", flat=True)) == ["b"]


def test_cannot_make_a_shared_tag_exclusive(api, tenant, admin, project):
    runs = [make_run(project, "a"), make_run(project, "b")]
    for run in runs:
        apply_tags(tenant, admin, "pipeline_run", run.pk, ["shared"])
    tag = Tag.objects.get(name="shared")
    response = api.put(f"/api/v1/tags/{tag.pk}", {"exclusive": True}, format="json")
    assert response.status_code == 400
    assert api.put(f"/api/v1/tags/{tag.pk}", {"color": "red"}, format="json").json()["body"]["color"] == "red"


def test_tag_filters_and_delete(api, tenant, admin, project):
    model = Model.objects.create(project=project, name="m")
    version = ModelVersion.objects.create(project=project, model=model)
    apply_tags(tenant, admin, "model_version", version.pk, ["on-version"])
    api.post("/api/v1/tags", {"name": "lonely", "color": "blue", "exclusive": True}, format="json")

    def names(query):
        return [i["name"] for i in api.get(f"/api/v1/tags?{query}").json()["items"]]

    assert names("resource_type=model_version") == ["on-version"]
    assert names("exclusive=true") == ["lonely"]
    # "on-version" got a random colour, so look at "lonely" only.
    assert names("color=blue&name=lonely") == ["lonely"]
    assert names("color=red&name=lonely") == []
    assert api.delete("/api/v1/tags/lonely").status_code == 200
    assert names("name=lonely") == []


def test_tags_are_isolated_between_tenants(api, other, project):
    run = make_run(project)
    tag = api.post("/api/v1/tags", {"name": "secret-project"}, format="json").json()
    assert other.get(f"/api/v1/tags/{tag['id']}").status_code == 404
    assert other.get("/api/v1/tags").json()["total"] == 0
    assert other.put(f"/api/v1/tags/{tag['id']}", {"color": "red"}, format="json").status_code == 404
    assert other.delete(f"/api/v1/tags/{tag['id']}").status_code == 404
    # Charlie's own tag cannot be put on Alice's run, nor Alice's tag on anything of Charlie's.
    mine = other.post("/api/v1/tags", {"name": "secret-project"}, format="json")
    assert mine.status_code == 200
    body = [{"tag_id": mine.json()["id"], "resource_id": str(run.pk), "resource_type": "pipeline_run"}]
    assert other.post("/api/v1/tag_resources/batch", body, format="json").status_code == 404
    body[0]["tag_id"] = tag["id"]
    assert other.post("/api/v1/tag_resources", body[0], format="json").status_code == 404
    assert not TagResource.objects.exists()


def test_tag_list_query_count_is_bounded(api, tenant, admin, project, django_assert_max_num_queries):
    for i in range(15):
        run = make_run(project, f"r{i}")
        apply_tags(tenant, admin, "pipeline_run", run.pk, [f"t{i}", "common"])
    with django_assert_max_num_queries(8):
        page = api.get("/api/v1/tags?hydrate=True&size=50").json()
    assert page["total"] == 16
    assert {i["name"]: i["metadata"]["tagged_count"] for i in page["items"]}["common"] == 15
