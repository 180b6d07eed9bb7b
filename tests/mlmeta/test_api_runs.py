"""Pipeline runs: the recorded pipeline scenarios replayed, get-or-create with placeholder
replacement, the late-status rule, sub-resources, filters, tenant isolation and query bounds."""

import json
import threading

import pytest
from django.db import connection

from mlmeta.models import Logs, PipelineRun, RunMetadata, StepRun
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.mlmeta.pipeline_world import (
    CACHED_RUN,
    PIPELINE_RUN,
    PipelineApi,
    is_own,
    member,
    replay,
    scenario,
    seeded_ids,
    shape,
)
from tests.traffic import Replayer

# Values that differ by nature between the recording and a replay.
VOLATILE = {"created", "updated", "end_time", "latest_heartbeat", "is_admin"}


@pytest.fixture
def admin(tenant):
    return member(tenant)


@pytest.fixture
def zen(api, tenant):
    return PipelineApi(api, tenant)


@pytest.fixture
def replayer(api, tenant, admin):
    return Replayer(api, seeded_ids(tenant, admin))


def differences(recorded, ours, path="") -> list[str]:
    """Where an answer differs from the recorded one (ids already mapped), volatile values aside."""
    if isinstance(recorded, dict) and isinstance(ours, dict):
        found = [f"{path}/{k}: missing" for k in set(recorded) ^ set(ours)]
        for key in set(recorded) & set(ours) - VOLATILE:
            found += differences(recorded[key], ours[key], f"{path}/{key}")
        return found
    if isinstance(recorded, list) and isinstance(ours, list):
        found = [] if len(recorded) == len(ours) else [f"{path}: {len(recorded)} items, ours {len(ours)}"]
        for index, pair in enumerate(zip(recorded, ours, strict=False)):
            found += differences(*pair, f"{path}[{index}]")
        return found
    return [] if recorded == ours else [f"{path}: {json.dumps(recorded)[:60]} != {json.dumps(ours)[:60]}"]


# --- the recorded scenarios ---------------------------------------------------------------------
def test_replay_pipeline_run_answers_as_recorded(replayer):
    answers = replay(replayer, PIPELINE_RUN)
    for exchange, answer in answers:
        if is_own(exchange):
            assert shape(answer) == shape(exchange["resp_body"]), exchange["seq"]
            assert differences(replayer.substitute(exchange["resp_body"]), answer) == [], exchange["seq"]
    final = answers[-1][1]
    assert (final["body"]["status"], final["body"]["index"], final["body"]["in_progress"]) == ("completed", 1, False)


def test_replay_late_provisioning_update_is_ignored(replayer):
    answers = {e["seq"]: a for e, a in replay(replayer, PIPELINE_RUN)}
    late = next(e for e in scenario(PIPELINE_RUN) if e["method"] == "PUT" and e["path"].startswith("/api/v1/runs/"))
    assert late["req_body"]["status"] == "provisioning"
    assert answers[late["seq"]]["body"]["status"] == "completed"


def test_replay_cached_run_completes_without_a_second_post(replayer, tenant):
    replay(replayer, PIPELINE_RUN)
    answers = replay(replayer, CACHED_RUN)
    posts = [e for e, _ in answers if e["method"] == "POST" and e["path"] == "/api/v1/runs"]
    assert len(posts) == 1
    for exchange, answer in answers:
        if is_own(exchange):
            assert differences(replayer.substitute(exchange["resp_body"]), answer) == [], exchange["seq"]
    final = answers[-1][1]
    assert (final["body"]["status"], final["body"]["index"]) == ("completed", 2)
    run = PipelineRun.objects.get(pk=final["id"])
    assert sorted(run.steps.values_list("status", flat=True)) == ["cached", "cached"]
    assert all(step.original_step_run_id for step in run.steps.all())


def test_replay_runs_list_and_run_show(replayer):
    replay(replayer, PIPELINE_RUN)
    for step in ("12-runs-list", "13-run-show"):
        for exchange, answer in replay(replayer, step):
            if is_own(exchange):
                assert differences(replayer.substitute(exchange["resp_body"]), answer) == [], exchange["seq"]


# --- get-or-create ------------------------------------------------------------------------------
def test_post_runs_replaces_the_placeholder_in_place(zen):
    snapshot = zen.snapshot(zen.pipeline())
    placeholder, created = zen.run(snapshot, "train-1")
    assert created is True and placeholder["body"]["status"] == "initializing"
    run, created = zen.run(snapshot, "train-other-name", status="running", orchestrator_run_id="orch-1")
    assert created is True
    assert run["id"] == placeholder["id"] and run["name"] == "train-1"
    assert run["body"]["status"] == "running" and run["metadata"]["orchestrator_run_id"] == "orch-1"
    again, created = zen.run(snapshot, "train-third", status="running", orchestrator_run_id="orch-1")
    assert (again["id"], created) == (run["id"], False)
    assert PipelineRun.objects.count() == 1


def test_a_placeholder_queued_without_a_start_time_takes_the_orchestrators(zen):
    """Runs the server launches are queued with no start time; the runner's POST /runs gives it."""
    snapshot = zen.snapshot(zen.pipeline())
    placeholder, _ = zen.run(snapshot, "queued", start_time=None)
    assert placeholder["metadata"]["start_time"] is None
    run, _ = zen.run(snapshot, "queued", status="running", orchestrator_run_id="orch-2")
    assert run["id"] == placeholder["id"] and run["metadata"]["start_time"] == "2026-11-28T02:21:32.255424"


def test_post_runs_without_placeholder_creates_numbered_runs(zen):
    snapshot = zen.snapshot(zen.pipeline())
    first, _ = zen.run(snapshot, "a", status="running", orchestrator_run_id="o-1")
    second, created = zen.run(snapshot, "b", status="running", orchestrator_run_id="o-2")
    assert created is True and first["id"] != second["id"]
    assert (first["body"]["index"], second["body"]["index"]) == (1, 2)


def test_post_runs_duplicate_name_is_409(zen):
    snapshot = zen.snapshot(zen.pipeline())
    zen.run(snapshot, "same")
    answer = zen.call(
        "post",
        "/runs",
        {"project": zen.project, "name": "same", "snapshot": snapshot["id"], "status": "initializing"},
        status=409,
    )
    assert answer["detail"][0] == "EntityExistsError"


def test_post_runs_with_tags_and_inline_logs(zen, tenant):
    snapshot = zen.snapshot(zen.pipeline())
    logs = {"id": "0b8e6b5e-2ab4-4a56-9c5f-1e7a1f7f0001", "uri": "/tmp/x.log", "source": "client"}
    run, _ = zen.run(snapshot, "tagged", tags=["nightly", {"name": "gpu"}], logs=logs)
    assert sorted(t["name"] for t in run["resources"]["tags"]) == ["gpu", "nightly"]
    assert [entry["id"] for entry in run["resources"]["log_collection"]] == [logs["id"]]
    assert Logs.objects.get(pk=logs["id"]).pipeline_run_id is not None


# --- updates and state changes ------------------------------------------------------------------
def test_put_run_applies_forward_updates_and_ignores_late_ones(zen):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "r")
    path = f"/runs/{run['id']}"
    assert zen.call("put", path, {"status": "running"})["body"]["status"] == "running"
    assert zen.call("put", path, {"status": "provisioning"})["body"]["status"] == "running"
    failed = zen.call("put", path, {"status": "failed", "status_reason": "OOM", "add_tags": ["broken"]})
    assert (failed["body"]["status"], failed["body"]["status_reason"]) == ("failed", "OOM")
    assert failed["metadata"]["end_time"] is not None
    assert [t["name"] for t in failed["resources"]["tags"]] == ["broken"]
    assert zen.call("put", path, {"status": "running"})["body"]["status"] == "failed"


def test_stop_and_refresh(zen):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    zen.step(run, "load")
    assert zen.call("post", f"/runs/{run['id']}/stop?graceful=True") is None
    assert zen.call("get", f"/runs/{run['id']}/status") == "stopping"
    assert zen.call("post", f"/runs/{run['id']}/stop") is None
    assert zen.call("get", f"/runs/{run['id']}/status") == "stopped"
    assert zen.call("post", f"/runs/{run['id']}/refresh?include_steps=True") is None
    assert zen.call("get", f"/runs/{run['id']}/status") == "stopped"


def test_get_run_with_refresh_status_recomputes(zen):
    snapshot = zen.snapshot(zen.pipeline(), steps=("load",))
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    step = zen.step(run, "load")
    PipelineRun.objects.filter(pk=run["id"]).update(status="running")
    StepRun.objects.filter(pk=step["id"]).update(status="completed")
    assert zen.call("get", f"/runs/{run['id']}")["body"]["status"] == "running"
    assert zen.call("get", f"/runs/{run['id']}?refresh_status=True")["body"]["status"] == "completed"


# --- sub-resources ------------------------------------------------------------------------------
def test_pipeline_configuration_has_the_run_substitutions(zen):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "r")
    configuration = zen.call("get", f"/runs/{run['id']}/pipeline-configuration")
    assert configuration["name"] == "train"
    assert configuration["substitutions"] == {"date": "2026_11_28", "time": "02_21_32_255424"}


def test_dag_links_steps_through_artifacts(zen):
    snapshot = zen.snapshot(zen.pipeline(), steps=("load", "fit", "report"))
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    load = zen.step(run, "load")
    [data] = zen.versions("train::load::output")
    zen.call("put", f"/steps/{load['id']}", {"outputs": {"output": [data["id"]]}, "status": "completed"})
    zen.step(run, "fit", inputs={"data": [data["id"]]})
    dag = zen.call("get", f"/runs/{run['id']}/dag")
    assert dag["id"] == run["id"] and dag["status"] == "running"
    nodes = {node["node_id"]: node for node in dag["nodes"]}
    assert nodes["step/load"]["metadata"]["status"] == "completed"
    assert nodes["step/report"]["id"] is None  # not started yet
    artifact = "load/outputs/step_output/output"
    assert nodes[artifact]["id"] == data["id"]
    edges = {(edge["source"], edge["target"]) for edge in dag["edges"]}
    assert {("step/load", artifact), (artifact, "step/fit"), ("step/fit", "step/report")} <= edges


def test_run_steps_route_lists_only_that_run(zen):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "r1", status="running", orchestrator_run_id="o1")
    other, _ = zen.run(snapshot, "r2", status="running", orchestrator_run_id="o2")
    zen.step(run, "load")
    zen.step(other, "load")
    page = zen.call("get", f"/runs/{run['id']}/steps?size=50")
    assert page["total"] == 1 and page["items"][0]["metadata"] is None


def test_run_logs_reads_the_local_log_file(zen, settings, tmp_path):
    settings.MLMETA_LOCAL_ARTIFACT_ROOTS = [str(tmp_path)]
    log_file = tmp_path / zen.artifact_store / "logs" / "client.log"
    log_file.parent.mkdir(parents=True)
    log_file.write_text('{"message": "hello", "level": "INFO"}\nplain line\n')
    snapshot = zen.snapshot(zen.pipeline())
    logs = {
        "id": "0b8e6b5e-2ab4-4a56-9c5f-1e7a1f7f0002",
        "uri": str(log_file),
        "source": "client",
        "artifact_store_id": zen.artifact_store,
    }
    run, _ = zen.run(snapshot, "r", logs=logs)
    entries = zen.call("get", f"/runs/{run['id']}/logs?source=client")
    assert [e["message"] for e in entries] == ["hello", "plain line"]
    assert entries[0]["level"] == "INFO" and entries[0]["id"]
    zen.call("get", f"/runs/{run['id']}/logs?source=nothing", status=404)
    later = {
        "id": "0b8e6b5e-2ab4-4a56-9c5f-1e7a1f7f0003",
        "source": "orchestrator",
        "uri": str(log_file.parent / "not-yet-written.log"),
        "artifact_store_id": zen.artifact_store,
    }
    zen.call("put", f"/runs/{run['id']}", {"add_logs": [later]})
    assert zen.call("get", f"/runs/{run['id']}/logs?logs_id={later['id']}") == []


def test_run_statistics_groups_and_aggregates(zen):
    snapshot = zen.snapshot(zen.pipeline(), steps=("load",))
    for index in range(3):
        run, _ = zen.run(snapshot, f"r{index}", status="running", orchestrator_run_id=f"o{index}")
        zen.step(run, "load", status="completed" if index else "cached", end_time="2026-11-28T02:21:43.000000")
    body = {
        "filter": {"project": zen.project},
        "groupings": [{"name": "state", "type": "status"}, {"name": "day", "type": "time", "granularity": "day"}],
        "metrics": [
            {"name": "steps", "aggregation": "sum", "source": "step_count"},
            {"name": "cached", "aggregation": "sum", "source": "cached_step_count"},
        ],
    }
    result = zen.call("post", "/runs/statistics", body)
    assert result["truncated"] is False
    [group] = result["groups"]
    assert group["group_keys"] == {"state": "completed", "day": "2026-11-28T00:00:00"}
    assert (group["run_count"], group["metrics"]) == (3, {"steps": 3.0, "cached": 1.0})
    everything = zen.call("post", "/runs/statistics", {"filter": {}, "groupings": [], "metrics": []})
    assert everything["groups"] == [{"group_keys": {}, "metrics": {}, "run_count": 3}]


# --- lists --------------------------------------------------------------------------------------
def test_list_runs_filters(zen, admin):
    train = zen.snapshot(zen.pipeline("train"))
    etl = zen.snapshot(zen.pipeline("etl"))
    a, _ = zen.run(train, "train-a", status="running", orchestrator_run_id="oa", tags=["prod"])
    zen.run(train, "train-b", status="running", orchestrator_run_id="ob")
    c, _ = zen.run(etl, "etl-a")
    zen.call("put", f"/runs/{c['id']}", {"status": "completed"})

    def names(query):
        return sorted(item["name"] for item in zen.call("get", f"/runs?size=50&{query}")["items"])

    assert names("name=contains:train") == ["train-a", "train-b"]
    assert names("index=2") == ["train-b"]
    assert names("status=completed") == ["etl-a"]
    assert names("in_progress=True") == ["train-a", "train-b"]
    assert names(f"pipeline_id={train['body']['pipeline_id']}") == ["train-a", "train-b"]
    assert names("pipeline_name=etl") == names("pipeline=etl") == ["etl-a"]
    assert names(f"snapshot_id={etl['id']}") == ["etl-a"]
    assert names(f"stack_id={zen.stack}") == ["etl-a", "train-a", "train-b"]
    assert names("orchestrator_run_id=ob") == ["train-b"]
    assert names("tags=prod") == ["train-a"]
    assert names(f"user={admin.username}&project={zen.project}") == ["etl-a", "train-a", "train-b"]
    assert names("start_time=gte:2026-11-28 00:00:00&end_time=isnotempty:") == ["etl-a"]
    by_index = [i["name"] for i in zen.call("get", "/runs?sort_by=desc:index&size=50")["items"]]
    assert by_index[0] == "train-b" and set(by_index[1:]) == {a["name"], "etl-a"}


def test_runs_page_of_20_takes_a_bounded_number_of_queries(zen, api, django_assert_max_num_queries):
    snapshot = zen.snapshot(zen.pipeline())
    for index in range(20):
        run, _ = zen.run(
            snapshot,
            f"r{index}",
            status="running",
            orchestrator_run_id=f"o{index}",
            tags=["t"],
            logs={"id": f"00000000-0000-4000-8000-{index:012d}", "uri": "/x", "source": "client"},
        )
        zen.step(run, "load")
        RunMetadata.objects.create(
            project_id=zen.project,
            resource_type="pipeline_run",
            resource_id=run["id"],
            key="score",
            value=index,
            type="int",
        )
    # A narrow query for the page, then one IN query per related table it uses (snapshot with the
    # pipeline and stack the runs share with it, logs, ...): cheaper than one 18-way join at
    # 100,000 runs (bench/RESULTS.md).
    with django_assert_max_num_queries(8):
        page = api.get("/api/v1/runs?hydrate=False&include_full_metadata=False&sort_by=desc:created&size=20").json()
    assert len(page["items"]) == 20 and all(item["resources"]["tags"] for item in page["items"])
    with django_assert_max_num_queries(9):
        page = api.get("/api/v1/runs?hydrate=True&size=20").json()
    assert {item["metadata"]["run_metadata"]["score"] for item in page["items"]} == set(range(20))


# --- tenants ------------------------------------------------------------------------------------
@pytest.fixture
def outsider(db):
    other = create_tenant("beta", name="Beta")
    return bearer_client(member(other, "charlie"), other)


def test_other_tenant_cannot_see_or_use_runs(zen, outsider):
    snapshot = zen.snapshot(zen.pipeline())
    run, _ = zen.run(snapshot, "secret-run")
    base = "/t/beta/api/v1"
    assert outsider.get(f"{base}/runs/{run['id']}").status_code == 404
    assert outsider.get(f"{base}/runs").json()["total"] == 0
    assert outsider.put(f"{base}/runs/{run['id']}", {"status": "failed"}, format="json").status_code == 404
    assert outsider.get(f"{base}/runs/{run['id']}/dag").status_code == 404
    assert outsider.post(f"{base}/runs/{run['id']}/stop").status_code == 404
    body = {"project": zen.project, "name": "x", "snapshot": snapshot["id"], "status": "initializing"}
    assert outsider.post(f"{base}/runs", body, format="json").status_code == 404
    assert PipelineRun.objects.get(pk=run["id"]).status == "initializing"


# --- concurrency (PostgreSQL) -------------------------------------------------------------------
def in_threads(count: int, work) -> list:
    """Run `work(i)` in `count` threads started together, each with its own connection."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:  # re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_orchestrator_posts_share_one_run():
    tenant = create_tenant("acme", name="Acme", is_default=True)
    user = member(tenant)
    zen = PipelineApi(bearer_client(user, tenant), tenant)
    snapshot = zen.snapshot(zen.pipeline())
    placeholder, _ = zen.run(snapshot, "placeholder")

    def post(index):
        client = PipelineApi(bearer_client(user, tenant), tenant)
        return client.run(snapshot, f"pod-{index}", status="running", orchestrator_run_id="same-orchestrator-run")

    results = in_threads(4, post)
    assert {run["id"] for run, _ in results} == {placeholder["id"]}
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert PipelineRun.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_steps_finishing_together_complete_the_run():
    tenant = create_tenant("acme", name="Acme", is_default=True)
    user = member(tenant)
    zen = PipelineApi(bearer_client(user, tenant), tenant)
    names = ("a", "b", "c", "d")
    snapshot = zen.snapshot(zen.pipeline(), steps=names)
    run, _ = zen.run(snapshot, "r", status="running", orchestrator_run_id="o")
    steps = [zen.step(run, name) for name in names]

    def finish(index):
        client = PipelineApi(bearer_client(user, tenant), tenant)
        return client.call("put", f"/steps/{steps[index]['id']}", {"status": "completed"})

    in_threads(len(names), finish)
    assert PipelineRun.objects.get(pk=run["id"]).status == "completed"


def test_delete_run_removes_its_steps_tags_and_metadata(zen):
    run, _ = zen.run(zen.snapshot(zen.pipeline()), "r", status="running", orchestrator_run_id="o", tags=["x"])
    step = zen.step(run, "load")
    for resource_type, resource_id in (("pipeline_run", run["id"]), ("step_run", step["id"])):
        RunMetadata.objects.create(
            project_id=zen.project, resource_type=resource_type, resource_id=resource_id, key="k", value=1, type="int"
        )
    assert zen.call("delete", f"/runs/{run['id']}") is None
    zen.call("get", f"/runs/{run['id']}", status=404)
    assert not StepRun.objects.exists() and not RunMetadata.objects.exists()
    assert zen.call("get", "/tags?name=x")["items"][0]["name"] == "x"  # the tag itself stays


def test_include_full_metadata_adds_the_steps_metadata(zen):
    run, _ = zen.run(zen.snapshot(zen.pipeline()), "r", status="running", orchestrator_run_id="o")
    step = zen.step(run, "load")
    RunMetadata.objects.create(
        project_id=zen.project, resource_type="step_run", resource_id=step["id"], key="rows", value=10, type="int"
    )
    assert zen.call("get", f"/runs/{run['id']}?include_full_metadata=False")["metadata"]["run_metadata"] == {}
    full = zen.call("get", f"/runs/{run['id']}?include_full_metadata=True")
    assert full["metadata"]["run_metadata"] == {"load::rows": 10}
    packages = zen.call("get", f"/runs/{run['id']}?include_python_packages=True")["metadata"]["client_environment"]
    assert packages["python_packages"] == "zenml==0.98.0"
