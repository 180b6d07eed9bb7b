"""`/api/v1/run_templates` (and `/workspaces/{project}/run_templates`): CRUD in the real server's
shape, its filters, 422s, RBAC and other tenants; running a template launches its snapshot."""

import pytest

from mlmeta import tasks
from mlmeta.models import Pipeline, PipelineBuild, PipelineRun, PipelineSnapshot, RunTemplate, Stack
from tenants.models import Project
from tests.api_helpers import bearer_client
from tests.conftest import make_user


@pytest.fixture
def admin(tenant):
    return make_user("tpladmin", tenant, is_admin=True)


@pytest.fixture
def snapshot(tenant, project, admin):
    pipeline = Pipeline.objects.create(project=project, user=admin, name="training")
    stack = Stack.objects.get(tenant=tenant, name="default")
    build = PipelineBuild.objects.create(project=project, pipeline=pipeline, stack=stack, is_local=False)
    return PipelineSnapshot.objects.create(
        project=project,
        user=admin,
        pipeline=pipeline,
        stack=stack,
        build=build,
        run_name_template="training-{date}-{time}",
        pipeline_configuration={"name": "training", "enable_cache": False, "parameters": {"epochs": 3}},
        step_configurations={
            "train": {
                "config": {"name": "train", "parameters": {"epochs": 3}},
                "step_config_overrides": {"name": "train", "parameters": {"epochs": 3}, "extra": {}},
            }
        },
        pipeline_spec={"steps": [{"name": "train"}]},
        config_schema={"type": "object"},
    )


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_snapshot, "delay", lambda run_id: sent.append(run_id))
    return sent


def create(api, snapshot, **extra):
    body = {"project": str(snapshot.project_id), "name": "nightly", "source_snapshot_id": str(snapshot.pk), **extra}
    return api.post("/api/v1/run_templates", body, format="json")


def test_create_run_template_has_the_real_servers_shape_and_names_its_snapshot(api, snapshot):
    response = create(api, snapshot, description="every night", tags=["prod"])
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["name"] == "nightly" and data["permission_denied"] is False
    assert data["body"]["runnable"] is True and data["body"]["hidden"] is False
    assert data["body"]["project_id"] == str(snapshot.project_id)
    metadata, resources = data["metadata"], data["resources"]
    assert metadata["description"] == "every night"
    assert metadata["pipeline_spec"] == {"steps": [{"name": "train"}]}
    assert metadata["config_template"] == {
        "run_name": "training-{date}-{time}",
        "steps": {"train": {"parameters": {"epochs": 3}}},
        "enable_cache": False,
    }
    assert metadata["config_schema"] == {"type": "object"}
    assert resources["source_snapshot"]["id"] == str(snapshot.pk)
    assert resources["pipeline"]["name"] == "training"
    assert resources["build"]["id"] == str(snapshot.build_id)
    assert [tag["name"] for tag in resources["tags"]] == ["prod"]
    assert resources["latest_run_id"] is None and resources["latest_run_status"] is None
    snapshot.refresh_from_db()
    assert (snapshot.name, snapshot.description) == ("nightly", "every night")


def test_hidden_template_leaves_the_snapshot_unnamed(api, snapshot):
    assert create(api, snapshot, hidden=True).json()["body"]["hidden"] is True
    snapshot.refresh_from_db()
    assert snapshot.name is None


def test_template_of_an_unbuilt_snapshot_is_not_runnable_and_has_no_config_template(api, snapshot):
    snapshot.build = None
    snapshot.save()
    data = create(api, snapshot).json()
    assert data["body"]["runnable"] is False
    assert data["metadata"]["config_template"] is None and data["metadata"]["config_schema"] is None


def test_list_run_templates_filters_sorts_and_pages(api, snapshot, project, django_assert_max_num_queries):
    other_pipeline = Pipeline.objects.create(project=project, name="scoring")
    other = PipelineSnapshot.objects.create(
        project=project, pipeline=other_pipeline, stack=snapshot.stack, run_name_template="s"
    )
    RunTemplate.objects.create(project=project, name="a-train", source_snapshot=snapshot)
    RunTemplate.objects.create(project=project, name="b-score", source_snapshot=other, hidden=True)
    RunTemplate.objects.create(project=project, name="c-train", source_snapshot=snapshot)

    def names(**params):
        response = api.get("/api/v1/run_templates", params)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()["items"]]

    with django_assert_max_num_queries(12):
        assert names(sort_by="asc:name") == ["a-train", "b-score", "c-train"]
    assert names(sort_by="asc:name", hidden="true") == ["b-score"]
    assert names(sort_by="asc:name", pipeline="scoring") == ["b-score"]
    assert names(sort_by="asc:name", pipeline_id=str(snapshot.pipeline_id)) == ["a-train", "c-train"]
    assert names(sort_by="asc:name", build_id=str(snapshot.build_id)) == ["a-train", "c-train"]
    assert names(sort_by="desc:name", name="contains:train") == ["c-train", "a-train"]
    page = api.get("/api/v1/run_templates", {"size": 2, "page": 2, "sort_by": "asc:name"}).json()
    assert page["total"] == 3 and [i["name"] for i in page["items"]] == ["c-train"]
    item = api.get("/api/v1/run_templates", {"name": "a-train"}).json()["items"][0]
    assert item["metadata"] is None and item["resources"]["source_snapshot"]["id"] == str(snapshot.pk)


def test_workspace_routes_scope_to_the_project(api, snapshot, tenant):
    elsewhere = Project.objects.create(tenant=tenant, name="elsewhere")
    RunTemplate.objects.create(project=elsewhere, name="far")
    response = api.post(
        f"/api/v1/workspaces/{snapshot.project.name}/run_templates",
        {"project": str(snapshot.project_id), "name": "near", "source_snapshot_id": str(snapshot.pk)},
        format="json",
    )
    assert response.status_code == 200, response.content
    listed = api.get(f"/api/v1/workspaces/{snapshot.project.name}/run_templates").json()
    assert [item["name"] for item in listed["items"]] == ["near"]
    assert api.get("/api/v1/workspaces/nowhere/run_templates").status_code == 404


def test_update_and_delete_run_template(api, snapshot):
    template = create(api, snapshot, tags=["a"]).json()
    response = api.put(
        f"/api/v1/run_templates/{template['id']}",
        {"name": "weekly", "hidden": True, "add_tags": ["b"], "remove_tags": ["a"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "weekly" and response.json()["body"]["hidden"] is True
    assert [tag["name"] for tag in response.json()["resources"]["tags"]] == ["b"]
    derived = PipelineSnapshot.objects.create(
        project=snapshot.project, pipeline=snapshot.pipeline, run_name_template="x", template_id=template["id"]
    )
    assert api.delete(f"/api/v1/run_templates/{template['id']}").status_code == 200
    assert not RunTemplate.objects.exists()
    derived.refresh_from_db()
    assert derived.template_id is None
    assert api.get(f"/api/v1/run_templates/{template['id']}").status_code == 404


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"source_snapshot_id": "not-a-uuid"}, "source_snapshot_id"),
        ({"hidden": "sometimes"}, "hidden"),
        ({"tags": "prod"}, "tags"),
    ],
)
def test_create_run_template_refuses_bad_input_with_422(api, snapshot, extra, field):
    response = create(api, snapshot, **extra)
    assert response.status_code == 422, response.content
    assert field in response.content.decode()
    assert not RunTemplate.objects.exists()


def test_duplicate_name_is_409_and_a_stackless_snapshot_is_400(api, snapshot):
    assert create(api, snapshot).status_code == 200
    assert create(api, snapshot).status_code == 409
    snapshot.stack = None
    snapshot.save()
    response = create(api, snapshot, name="other")
    assert response.status_code == 400 and "no stack" in response.json()["detail"][1]


def test_viewer_reads_but_may_not_create_update_delete_or_run(api, snapshot, tenant, queued):
    template = create(api, snapshot).json()
    viewer = bearer_client(make_user("tplviewer", tenant, role="tenant-viewer"), tenant)
    assert viewer.get(f"/api/v1/run_templates/{template['id']}").status_code == 200
    assert create(viewer, snapshot, name="mine").status_code == 403
    assert viewer.put(f"/api/v1/run_templates/{template['id']}", {"name": "x"}, format="json").status_code == 403
    assert viewer.delete(f"/api/v1/run_templates/{template['id']}").status_code == 403
    assert viewer.post(f"/api/v1/run_templates/{template['id']}/runs", {}, format="json").status_code == 403
    assert RunTemplate.objects.count() == 1 and not PipelineRun.objects.exists() and not queued


def test_another_tenants_snapshot_or_template_is_404_and_nothing_is_written(api, snapshot, other):
    foreign_pipeline = Pipeline.objects.create(project=Project.objects.get(tenant=other, name="default"), name="p")
    foreign = PipelineSnapshot.objects.create(
        project=foreign_pipeline.project, pipeline=foreign_pipeline, run_name_template="x"
    )
    response = create(api, foreign)
    assert response.status_code == 404
    assert not RunTemplate.objects.exists()
    template = RunTemplate.objects.create(project=foreign.project, name="theirs", source_snapshot=foreign)
    assert api.get(f"/api/v1/run_templates/{template.pk}").status_code == 404
    assert api.post(f"/api/v1/run_templates/{template.pk}/runs", {}, format="json").status_code == 404
    assert "theirs" not in api.get("/api/v1/run_templates").content.decode()


def test_running_a_template_launches_its_snapshot_and_becomes_its_latest_run(
    api, snapshot, queued, django_capture_on_commit_callbacks
):
    template = create(api, snapshot).json()
    # The client sends a whole PipelineRunConfiguration: unset options are nulls.
    body = {"run_name": None, "enable_cache": None, "schedule": None, "steps": None, "parameters": {"epochs": 5}}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/run_templates/{template['id']}/runs", body, format="json")
    assert response.status_code == 200, response.content
    run = PipelineRun.objects.get(pk=response.json()["id"])
    assert response.json()["body"]["status"] == "initializing" and queued == [str(run.pk)]
    assert run.snapshot.source_snapshot_id == snapshot.pk and str(run.snapshot.template_id) == template["id"]
    assert run.snapshot.pipeline_configuration["parameters"] == {"epochs": 5}
    assert run.launch["trigger"] == {"type": "template", "id": template["id"]}
    resources = api.get(f"/api/v1/run_templates/{template['id']}").json()["resources"]
    assert resources["latest_run_id"] == str(run.pk) and resources["latest_run_status"] == "initializing"


def test_running_a_template_with_a_bad_override_is_422_and_queues_nothing(api, snapshot, queued):
    template = create(api, snapshot).json()
    response = api.post(f"/api/v1/run_templates/{template['id']}/runs", {"parameters": {"epochs": "x"}}, format="json")
    assert response.status_code == 422 and "epochs" in response.content.decode()
    assert not PipelineRun.objects.exists() and not queued
