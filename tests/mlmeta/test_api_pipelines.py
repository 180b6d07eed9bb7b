"""Pipelines, snapshots, builds, schedules, code repositories and log records."""

import pytest

from mlmeta.models import CodeReference, Logs, PipelineSnapshot, Schedule, TagResource
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.mlmeta.pipeline_world import PipelineApi, member
from tests.traffic import recorded


@pytest.fixture
def admin(tenant):
    return member(tenant)


@pytest.fixture
def zen(api, tenant):
    return PipelineApi(api, tenant)


# --- pipelines ----------------------------------------------------------------------------------
def test_create_pipeline_and_find_it_by_name(zen):
    created = zen.call(
        "post", "/pipelines", {"project": zen.project, "name": "train", "description": "d", "tags": ["a"]}
    )
    assert created["metadata"]["description"] == "d"
    assert [t["name"] for t in created["resources"]["tags"]] == ["a"]
    assert created["resources"]["latest_run_id"] is None
    query = f"hydrate=False&sort_by=desc:created&page=1&size=1&project={zen.project}&name=train"
    page = zen.call("get", f"/pipelines?{query}")
    assert page["total"] == 1 and page["items"][0]["metadata"] is None
    assert page["items"][0]["resources"]["tags"][0]["name"] == "a"
    answer = zen.call("post", "/pipelines", {"project": zen.project, "name": "train"}, status=409)
    assert answer["detail"][0] == "EntityExistsError"


def test_pipeline_shows_its_latest_run(zen, admin):
    pipeline = zen.pipeline()
    snapshot = zen.snapshot(pipeline)
    zen.run(snapshot, "first")
    latest, _ = zen.run(snapshot, "second", status="running", orchestrator_run_id="x")
    shown = zen.call("get", f"/pipelines/{pipeline['id']}")
    assert shown["resources"]["latest_run_id"] == latest["id"]
    assert shown["resources"]["latest_run_status"] == "running"  # the second request took the placeholder over
    assert shown["resources"]["latest_run_user"]["name"] == admin.username
    assert zen.call("get", "/pipelines?latest_run_status=running")["total"] == 1
    assert zen.call("get", "/pipelines?latest_run_status=failed")["total"] == 0


def test_update_and_delete_pipeline(zen):
    pipeline = zen.pipeline()
    updated = zen.call("put", f"/pipelines/{pipeline['id']}", {"description": "new", "add_tags": ["x", "y"]})
    assert updated["metadata"]["description"] == "new"
    updated = zen.call("put", f"/pipelines/{pipeline['id']}", {"remove_tags": ["x"]})
    assert [t["name"] for t in updated["resources"]["tags"]] == ["y"]
    assert zen.call("get", "/pipelines?tags=y")["total"] == 1
    assert zen.call("delete", f"/pipelines/{pipeline['id']}") is None
    zen.call("get", f"/pipelines/{pipeline['id']}", status=404)
    assert not TagResource.objects.filter(resource_id=pipeline["id"]).exists()


# --- snapshots ----------------------------------------------------------------------------------
def test_snapshot_echoes_the_recorded_request(zen):
    [exchange] = recorded("11-pipeline-run", "POST", "/pipeline_snapshots")
    pipeline = zen.pipeline("anchor_pipeline")
    body = {**exchange["req_body"], "project": zen.project, "stack": zen.stack, "pipeline": pipeline["id"]}
    snapshot = zen.call("post", "/pipeline_snapshots", body)
    expected = exchange["resp_body"]
    assert snapshot["body"]["pipeline_id"] == pipeline["id"] and snapshot["name"] is None
    assert {k: snapshot["body"][k] for k in ("runnable", "deployable", "is_dynamic")} == {
        k: expected["body"][k] for k in ("runnable", "deployable", "is_dynamic")
    }
    for key in ("pipeline_configuration", "step_configurations", "pipeline_spec", "client_environment"):
        assert snapshot["metadata"][key] == expected["metadata"][key], key
    assert sorted(snapshot["resources"]) == sorted(expected["resources"])
    assert PipelineSnapshot.objects.get(pk=snapshot["id"]).step_count == 2
    # The client runs steps in this order; PostgreSQL's jsonb would sort the keys.
    assert list(snapshot["metadata"]["step_configurations"]) == ["produce", "consume"]
    again = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}")
    assert list(again["metadata"]["step_configurations"]) == ["produce", "consume"]
    fetched = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}?step_configuration_filter=produce")
    assert list(fetched["metadata"]["step_configurations"]) == ["produce"]
    assert "python_packages" not in fetched["metadata"]["client_environment"]


def test_snapshot_names_replace_and_code_references(zen):
    pipeline = zen.pipeline()
    repo = zen.call(
        "post",
        "/code_repositories",
        {"project": zen.project, "name": "repo", "config": {"url": "x"}, "source": {"module": "m", "type": "user"}},
    )
    reference = {"commit": "abc123", "subdirectory": "src", "code_repository": repo["id"]}
    first = zen.snapshot(pipeline, name="v1", code_reference=reference)
    assert first["name"] == "v1"
    assert first["resources"]["code_reference"]["body"]["code_repository"]["id"] == repo["id"]
    assert CodeReference.objects.get().commit == "abc123"
    zen.call("post", "/pipeline_snapshots", {**snapshot_body(zen, pipeline), "name": "v1"}, status=409)
    second = zen.snapshot(pipeline, name="v1", replace=True)
    assert second["name"] == "v1" and PipelineSnapshot.objects.get(pk=first["id"]).name is None
    generated = zen.snapshot(pipeline, name=True)
    assert generated["name"].startswith("train-")
    assert zen.call("get", "/pipeline_snapshots?named_only=True&size=50")["total"] == 2
    renamed = zen.call("put", f"/pipeline_snapshots/{second['id']}", {"name": "v2", "add_tags": ["best"]})
    assert renamed["name"] == "v2" and [t["name"] for t in renamed["resources"]["tags"]] == ["best"]


def snapshot_body(zen, pipeline) -> dict:
    return {
        "project": zen.project,
        "run_name_template": "x",
        "pipeline_configuration": {"name": pipeline["name"]},
        "stack": zen.stack,
        "pipeline": pipeline["id"],
    }


def test_snapshot_latest_run(zen):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "r")
    shown = zen.call("get", f"/pipeline_snapshots/{snapshot['id']}")
    assert shown["resources"]["latest_run_id"] == run["id"]


# --- builds, schedules, code repositories -------------------------------------------------------
def test_builds(zen):
    pipeline = zen.pipeline()
    body = {
        "project": zen.project,
        "is_local": False,
        "contains_code": True,
        "pipeline": pipeline["id"],
        "stack": zen.stack,
        "images": {"orchestrator": {"image": "img:1"}},
        "checksum": "c",
    }
    build = zen.call("post", "/pipeline_builds", body)
    assert build["metadata"]["images"]["orchestrator"]["image"] == "img:1"
    assert build["metadata"]["pipeline"]["id"] == pipeline["id"]
    snapshot = zen.snapshot(pipeline, build=build["id"])
    assert snapshot["body"]["runnable"] is True
    assert zen.call("get", f"/pipeline_builds?pipeline_id={pipeline['id']}&is_local=False")["total"] == 1
    zen.call("put", f"/pipeline_builds/{build['id']}", {}, status=405)
    assert zen.call("delete", f"/pipeline_builds/{build['id']}") is None


def test_schedules(zen):
    pipeline = zen.pipeline()
    body = {
        "project": zen.project,
        "name": "nightly",
        "active": True,
        "cron_expression": "0 3 * * *",
        "orchestrator_id": None,
        "pipeline_id": pipeline["id"],
        "interval_second": "PT1H",
    }
    schedule = zen.call("post", "/schedules", body)
    assert schedule["body"]["cron_expression"] == "0 3 * * *" and schedule["body"]["interval_second"] == "P0DT01H00M00S"
    assert schedule["metadata"]["pipeline_id"] == pipeline["id"]
    updated = zen.call("put", f"/schedules/{schedule['id']}", {"active": False})
    assert updated["body"]["active"] is False
    assert zen.call("get", "/schedules?active=False")["total"] == 1
    zen.call("delete", f"/schedules/{schedule['id']}?soft=True")
    assert Schedule.objects.get(pk=schedule["id"]).is_archived is True
    zen.call("delete", f"/schedules/{schedule['id']}")
    assert not Schedule.objects.exists()


def test_code_repositories(zen):
    assert zen.call("get", f"/code_repositories?project={zen.project}")["total"] == 0
    body = {"project": zen.project, "name": "repo", "config": {}, "source": {"module": "m", "type": "user"}}
    repo = zen.call("post", "/code_repositories", body)
    assert repo["body"]["source"]["module"] == "m" and repo["metadata"]["config"] == {}
    zen.call("post", "/code_repositories", body, status=409)
    updated = zen.call("put", f"/code_repositories/{repo['id']}", {"description": "main repo"})
    assert updated["metadata"]["description"] == "main repo"
    assert zen.call("delete", f"/code_repositories/{repo['id']}") is None


# --- log records --------------------------------------------------------------------------------
def test_logs_are_registered_then_attached(zen):
    [exchange] = [e for e in recorded("11-pipeline-run", "POST", "/logs") if e["req_body"]["source"] == "client"]
    body = {**exchange["req_body"], "project": zen.project, "artifact_store_id": zen.artifact_store}
    logs = zen.call("post", "/logs", body)
    assert logs["id"] == body["id"] and "name" not in logs
    assert sorted(logs["body"]) == sorted(exchange["resp_body"]["body"])
    zen.call("post", "/logs", body, status=409)
    run, _ = zen.run(zen.snapshot(zen.pipeline()), "r")
    attached = zen.call("put", f"/logs/{logs['id']}", {"pipeline_run_id": run["id"]})
    assert attached["body"]["pipeline_run_id"] == run["id"]
    assert zen.call("get", f"/runs/{run['id']}")["resources"]["log_collection"][0]["id"] == logs["id"]
    zen.call("get", "/logs", status=405)


# --- tenants ------------------------------------------------------------------------------------
@pytest.fixture
def outsider(db):
    other = create_tenant("beta", name="Beta")
    client = bearer_client(member(other, "charlie"), other)
    return PipelineApi(client, other, prefix="/t/beta")


def test_pipelines_and_snapshots_of_another_tenant_are_invisible(zen, outsider):
    pipeline = zen.pipeline()
    snapshot = zen.snapshot(pipeline)
    for path in (f"/pipelines/{pipeline['id']}", f"/pipeline_snapshots/{snapshot['id']}"):
        outsider.call("get", path, status=404)
    assert outsider.call("get", "/pipelines")["total"] == 0
    assert outsider.call("get", "/pipeline_snapshots")["total"] == 0
    body = {**snapshot_body(outsider, pipeline)}
    outsider.call("post", "/pipeline_snapshots", body, status=404)
    foreign_project = {"project": zen.project, "name": "intruder"}
    outsider.call("post", "/pipelines", foreign_project, status=404)
    log = {
        "project": outsider.project,
        "id": "9b480688-d57b-48ff-96a2-75e271d00009",
        "source": "client",
        "artifact_store_id": zen.artifact_store,
    }
    outsider.call("post", "/logs", log, status=404)
    assert not Logs.objects.exists()


def test_pipelines_page_takes_a_bounded_number_of_queries(zen, admin, django_assert_max_num_queries):
    for name in ("a", "b", "c"):
        zen.run(zen.snapshot(zen.pipeline(name)), f"{name}-run")
    query = f"hydrate=False&sort_by=desc:created&logical_operator=and&page=1&size=20&project={zen.project}"
    # No count (the page ends the list); the page's users and latest runs each in one query
    # compiled once (KeyedQuery), cheaper than joining them into the page's query.
    with django_assert_max_num_queries(6):
        page = zen.call("get", f"/pipelines?{query}")
    assert page["total"] == 3 and page["total_pages"] == 1
    assert {item["resources"]["latest_run_user"]["name"] for item in page["items"]} == {admin.username}
