"""Step runs: creation with inputs/outputs/parents/logs, updates that drive the run's status,
the cache lookup, retries, sub-resources and tenant isolation."""

import pytest

from mlmeta.models import Logs, StepRun
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.mlmeta.pipeline_world import CACHED_RUN, PIPELINE_RUN, PipelineApi, member, replay, seeded_ids
from tests.traffic import Replayer


@pytest.fixture
def admin(tenant):
    return member(tenant)


@pytest.fixture
def zen(api, tenant):
    return PipelineApi(api, tenant)


@pytest.fixture
def running(zen):
    """A running run of a two-step snapshot (`load` then `fit`)."""
    snapshot = zen.snapshot(zen.pipeline(), steps=("load", "fit"))
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    return run


def test_replayed_cached_steps_reuse_the_recorded_outputs(api, tenant, admin):
    replayer = Replayer(api, seeded_ids(tenant, admin))
    first = {e["seq"]: a for e, a in replay(replayer, PIPELINE_RUN)}
    second = replay(replayer, CACHED_RUN)
    lookups = [a for e, a in second if e["method"] == "GET" and e["path"] == "/api/v1/steps"]
    assert [page["total"] for page in lookups] == [1, 1]
    assert [page["items"][0]["id"] for page in lookups] == [first[71]["id"], first[76]["id"]]
    cached = [a for e, a in second if e["method"] == "POST" and e["path"] == "/api/v1/steps"]
    assert [step["body"]["status"] for step in cached] == ["cached", "cached"]
    assert cached[0]["metadata"]["original_step_run_id"] == first[71]["id"]
    assert cached[1]["metadata"]["parent_step_ids"] == [cached[0]["id"]]
    assert cached[1]["resources"]["outputs"]["output"][0]["id"] == first[78][0]["id"]


def test_create_step_links_inputs_outputs_and_logs(zen, running):
    load = zen.step(running, "load")
    assert (load["body"]["version"], load["body"]["substitutions"]["date"]) == (1, "2026_11_28")
    assert load["metadata"]["config"]["name"] == "load" and load["metadata"]["spec"]["invocation_id"] == "load"
    [data] = zen.versions("train::load::output")
    done = zen.call("put", f"/steps/{load['id']}", {"outputs": {"output": [data["id"]]}, "status": "completed"})
    assert done["body"]["status"] == "completed" and done["body"]["end_time"] is not None
    assert [v["id"] for v in done["resources"]["outputs"]["output"]] == [data["id"]]
    logs = {"id": "7b663e15-0ff6-4bc7-99c7-2daaf2590001", "uri": "/tmp/fit.log", "source": "step"}
    fit = zen.step(running, "fit", inputs={"data": [data["id"]]}, logs=logs)
    [item] = fit["resources"]["inputs"]["data"]
    assert (item["id"], item["input_type"], item["index"]) == (data["id"], "step_output", 0)
    assert fit["metadata"]["parent_step_ids"] == [load["id"]]
    assert [entry["id"] for entry in fit["resources"]["log_collection"]] == [logs["id"]]
    assert Logs.objects.get(pk=logs["id"]).step_run_id is not None


def test_registered_logs_are_attached_by_id(zen, running):
    logs = zen.call(
        "post",
        "/logs",
        {
            "project": zen.project,
            "id": "89dda88c-3493-44c3-ac3f-f82fe2e80001",
            "uri": "/tmp/p.log",
            "source": "prepare_step",
        },
    )
    step = zen.step(running, "load", logs=logs["id"])
    [attached] = step["resources"]["log_collection"]
    assert attached["id"] == logs["id"] and attached["body"]["step_run_id"] == step["id"]


def test_step_updates_drive_the_run_status(zen, running):
    load = zen.step(running, "load")
    assert zen.call("get", f"/runs/{running['id']}/status") == "running"
    zen.call("put", f"/steps/{load['id']}", {"status": "completed", "end_time": "2026-11-28T02:21:40.000000"})
    assert zen.call("get", f"/runs/{running['id']}/status") == "running"  # `fit` has not run yet
    fit = zen.step(running, "fit")
    zen.call("put", f"/steps/{fit['id']}", {"status": "completed"})
    run = zen.call("get", f"/runs/{running['id']}")
    assert (run["body"]["status"], run["body"]["in_progress"]) == ("completed", False)
    assert run["metadata"]["end_time"] is not None


def test_failed_step_fails_the_run(zen, running):
    load = zen.step(running, "load")
    zen.call(
        "put",
        f"/steps/{load['id']}",
        {"status": "failed", "exception_info": {"traceback": "x", "step_code_line": None}},
    )
    assert zen.call("get", f"/runs/{running['id']}/status") == "failed"


def test_cache_lookup_returns_the_newest_unexpired_completed_step(zen, running):
    snapshot = zen.snapshot(zen.pipeline("other"), steps=("load",))
    older, _ = zen.run(snapshot, "older", status="running", orchestrator_run_id="x1")
    newer, _ = zen.run(snapshot, "newer", status="running", orchestrator_run_id="x2")
    expired, _ = zen.run(snapshot, "expired", status="running", orchestrator_run_id="x3")
    first = zen.step(older, "load", status="completed", cache_key="k1")
    second = zen.step(newer, "load", status="completed", cache_key="k1")
    zen.step(expired, "load", status="completed", cache_key="k1", cache_expires_at="2020-01-01T00:00:00")
    zen.step(running, "load", status="running", cache_key="k1")
    query = f"hydrate=True&sort_by=desc:created&size=1&project={zen.project}&cache_key=k1&status=completed"
    page = zen.call("get", f"/steps?{query}&cache_expired=False")
    assert page["total"] == 2 and page["items"][0]["id"] == second["id"]
    assert page["items"][0]["metadata"]["cache_key"] == "k1"
    assert zen.call("get", f"/steps?{query}&cache_expired=True")["total"] == 1
    assert first["id"] != second["id"]


def test_retry_creates_a_new_version_and_exclude_retried_hides_the_old_one(zen, running):
    first = zen.step(running, "load")
    zen.call("put", f"/steps/{first['id']}", {"status": "failed"})
    # the run failed; a retry of the step still gets recorded
    retry = zen.step(running, "load")
    assert retry["body"]["version"] == 2
    assert StepRun.objects.get(pk=first["id"]).status == "retried"
    listed = zen.call("get", f"/steps?pipeline_run_id={running['id']}&exclude_retried=True")
    assert [item["id"] for item in listed["items"]] == [retry["id"]]
    assert zen.call("get", f"/steps?pipeline_run_id={running['id']}")["total"] == 2


def test_a_step_name_cannot_run_twice_unless_retried(zen, running):
    zen.step(running, "load")
    body = {
        "project": zen.project,
        "name": "load",
        "start_time": "2026-11-28T02:21:33",
        "status": "running",
        "pipeline_run_id": running["id"],
    }
    assert zen.call("post", "/steps", body, status=409)["detail"][0] == "EntityExistsError"


def test_step_sub_resources(zen, running):
    step = zen.step(running, "load")
    assert zen.call("get", f"/steps/{step['id']}/status") == "running"
    configuration = zen.call("get", f"/steps/{step['id']}/step-configuration")
    assert configuration["name"] == "load" and configuration["substitutions"]["time"] == "02_21_32_255424"
    beat = zen.call("put", f"/steps/{step['id']}/heartbeat", {"heartbeat_liveness_timeout_seconds": 60})
    assert beat["id"] == step["id"] and beat["status"] == "running" and beat["latest_heartbeat"]
    assert beat["pipeline_run_status"] == "running" and beat["heartbeat_enabled"] is True
    assert zen.call("get", f"/steps/{step['id']}")["body"]["latest_heartbeat"] == beat["latest_heartbeat"]
    zen.call("get", f"/steps/{step['id']}/logs", status=404)  # no log records
    zen.call("delete", f"/steps/{step['id']}", status=405)


def test_step_list_resources_are_filled_without_hydration(zen, running):
    load = zen.step(running, "load")
    [data] = zen.versions("train::load::output")
    zen.call("put", f"/steps/{load['id']}", {"outputs": {"output": [data["id"]]}})
    [item] = zen.call("get", f"/steps?hydrate=False&pipeline_run_id={running['id']}")["items"]
    assert item["metadata"] is None
    assert item["resources"]["outputs"]["output"][0]["body"]["artifact"]["name"] == "train::load::output"


@pytest.fixture
def outsider(db):
    other = create_tenant("beta", name="Beta")
    return other, bearer_client(member(other, "charlie"), other)


def test_steps_of_another_tenant_are_invisible_and_untouchable(zen, running, outsider):
    step = zen.step(running, "load")
    _, client = outsider
    base = "/t/beta/api/v1"
    assert client.get(f"{base}/steps/{step['id']}").status_code == 404
    assert client.get(f"{base}/steps").json()["total"] == 0
    assert client.put(f"{base}/steps/{step['id']}", {"status": "failed"}, format="json").status_code == 404
    assert client.put(f"{base}/steps/{step['id']}/heartbeat", {}, format="json").status_code == 404
    assert client.get(f"{base}/runs/{running['id']}/steps").status_code == 404
    assert StepRun.objects.get(pk=step["id"]).status == "running"


def test_creating_a_step_for_another_tenants_run_is_refused(zen, running, outsider):
    other, client = outsider
    theirs = PipelineApi(client, other, prefix="/t/beta")
    body = {
        "project": theirs.project,
        "name": "sneak",
        "start_time": "2026-11-28T02:21:33",
        "status": "running",
        "pipeline_run_id": running["id"],
    }
    assert client.post("/t/beta/api/v1/steps", body, format="json").status_code == 404
    snapshot = theirs.snapshot(theirs.pipeline(), steps=("load",))
    own_run, _ = theirs.run(snapshot, "mine", status="running", orchestrator_run_id="o")
    [data] = zen.versions("a::secret")
    body = {**body, "pipeline_run_id": own_run["id"], "inputs": {"x": [data["id"]]}}
    assert client.post("/t/beta/api/v1/steps", body, format="json").status_code == 404
    assert not StepRun.objects.filter(name="sneak").exists()


def test_steps_page_takes_a_bounded_number_of_queries(zen, api, django_assert_max_num_queries):
    names = tuple(f"s{index}" for index in range(20))
    run, _ = zen.run(zen.snapshot(zen.pipeline(), steps=names), "r", status="running", orchestrator_run_id="o")
    previous = None
    for name in names:
        step = zen.step(run, name, inputs={"x": [previous["id"]]} if previous else {})
        [previous] = zen.versions(f"out-{name}", tags=["t"])
        zen.call("put", f"/steps/{step['id']}", {"outputs": {"output": [previous["id"]]}})
    with django_assert_max_num_queries(9):
        page = api.get(f"/api/v1/steps?size=20&pipeline_run_id={run['id']}").json()
    assert len(page["items"]) == 20 and all(item["resources"]["outputs"] for item in page["items"])
    with django_assert_max_num_queries(12):
        page = api.get("/api/v1/steps?size=20&hydrate=True").json()
    assert all(item["metadata"]["config"]["name"] == item["name"] for item in page["items"])


def test_step_create_takes_a_bounded_number_of_queries(zen, django_assert_max_num_queries):
    run, _ = zen.run(zen.snapshot(zen.pipeline()), "r", status="running", orchestrator_run_id="o")
    load = zen.step(run, "load")
    with django_assert_max_num_queries(21):  # the run comes with its snapshot; its project is not read again
        fit = zen.step(run, "fit")
    assert fit["metadata"]["parent_step_ids"] == [load["id"]]
    assert fit["metadata"]["config"]["name"] == "fit"
    assert fit["metadata"]["snapshot_id"] == run["resources"]["snapshot"]["id"]
    [model] = zen.versions("model")
    finished = {"outputs": {"output": [model["id"]]}, "status": "completed"}
    with django_assert_max_num_queries(19):  # the output linked with one INSERT, project and run read with the step
        fit = zen.call("put", f"/steps/{fit['id']}", finished)
    assert [v["id"] for v in fit["resources"]["outputs"]["output"]] == [model["id"]]
    assert zen.call("put", f"/steps/{fit['id']}", finished)["resources"]["outputs"] == fit["resources"]["outputs"]
