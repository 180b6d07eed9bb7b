"""Server-side runs end to end: the real zenml client records a pipeline run on a real MLMeta;
the run is replayed through the API; a real Celery worker on the server's broker hands it to the
`local` runner, whose zenml client (ZenML's runner entrypoint for snapshots) runs the pipeline
against the server again. A worker killed mid-task has its task redelivered and still exactly one
run results (the claim). A snapshot whose code is only in an archive in the artifact store has it
downloaded by the local runner; a missing or broken archive fails the run with a readable reason."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ROOT, ZENML_VENV

SCRIPTS = ROOT / "tests" / "e2e" / "scripts"
REDIS_URL = os.environ.get("MLMETA_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def worker_env(server, **extra) -> dict[str, str]:
    return {
        **server.env,
        "MLMETA_RUNNER_SOURCE_ROOT": str(SCRIPTS),
        "MLMETA_RUNNER_PYTHON": str(ZENML_VENV / "bin" / "python"),
        **extra,
    }


def start_worker(env: dict, log: Path, name: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"]
    command += ["--without-gossip", "--without-mingle", "--hostname", f"{name}-{os.getpid()}@%h"]
    with log.open("a") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for_text(log, "ready.", process)
    return process


def wait_for_text(log: Path, text: str, process=None, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not in {log.name}:\n{log.read_text(errors='replace')[-4000:]}")


def end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Api:
    def __init__(self, base_url: str):
        response = requests.post(
            f"{base_url}/api/v1/login", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}, timeout=30
        )
        assert response.status_code == 200, response.text
        self.base = f"{base_url}/api/v1"
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def get(self, path: str, **params):
        response = requests.get(self.base + path, headers=self.headers, params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(self.base + path, headers=self.headers, json=body, timeout=30)

    def wait_finished(self, run_id: str, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(f"/runs/{run_id}")
            if run["body"]["status"] in ("completed", "failed", "stopped", "cancelled"):
                return run
            time.sleep(1)
        raise AssertionError(f"run {run_id} still {run['body']['status']}: {run['body'].get('status_reason')}")


@pytest.fixture(scope="module")
def recorded_run(zenml) -> dict:
    """A run of the 2-step pipeline, recorded by the real zenml client."""
    return zenml.script("pipeline.py", "e2e_pipeline").ok().data


@pytest.fixture(scope="module")
def api(mlmeta_server) -> Api:
    return Api(mlmeta_server.url)


@pytest.fixture(scope="module")
def worker(mlmeta_server, tmp_path_factory):
    """A real worker on the server's own (embedded) broker, as `make run` starts one."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(worker_env(mlmeta_server), log, "runs")
    yield log
    end(process)


def assert_ran_like_the_client(api: Api, run: dict, recorded: dict) -> None:
    assert run["body"]["status"] == "completed", json.dumps(run["body"])[:2000]
    steps = {step["name"]: step for step in api.get("/steps", pipeline_run_id=run["id"], size=50)["items"]}
    assert set(steps) == set(recorded["steps"]) == {"produce", "consume"}
    for step in steps.values():
        assert step["body"]["status"] == "completed"
    outputs = api.get(f"/steps/{steps['produce']['id']}")["resources"]["outputs"]
    (artifact,) = outputs["output"]
    assert artifact["id"] not in recorded["steps"]["produce"]["outputs"]["output"]


def test_a_replayed_run_completes_with_its_steps_and_artifacts(api, recorded_run, worker):
    response = api.post(f"/runs/{recorded_run['id']}/replay", {})
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["id"] != recorded_run["id"] and new["body"]["status"] == "initializing"
    run = api.wait_finished(new["id"])
    assert_ran_like_the_client(api, run, recorded_run)
    assert run["resources"]["original_run"]["id"] == recorded_run["id"]
    assert run["body"].get("status_reason") in (None, "")


def test_a_run_template_made_and_run_by_the_client_completes(api, zenml, recorded_run, worker):
    snapshot_id = api.get(f"/runs/{recorded_run['id']}")["resources"]["snapshot"]["id"]
    result = zenml.script("client_api.py", "run-template", snapshot_id, "e2e-template").ok().data
    assert result["listed"] == ["e2e-template"] and result["status"] == "initializing"
    run = api.wait_finished(result["run_id"])
    assert_ran_like_the_client(api, run, recorded_run)
    template = api.get(f"/run_templates/{result['template_id']}")
    assert template["resources"]["latest_run_id"] == run["id"]
    assert template["resources"]["latest_run_status"] == "completed"


def test_a_wrong_parameter_type_is_refused_before_anything_is_queued(api, recorded_run, worker):
    before = api.get("/runs", size=1)["total"]
    response = api.post(f"/runs/{recorded_run['id']}/replay", {"run_configuration": {"enable_cache": "often"}})
    assert response.status_code == 422, response.text
    assert "enable_cache" in response.text
    assert api.get("/runs", size=1)["total"] == before


@pytest.fixture(scope="module")
def archived(zenml, tmp_path_factory) -> dict:
    """Three snapshots of the client whose code exists only as an archive in a local artifact store."""
    store = tmp_path_factory.mktemp("shared-store")
    return zenml.script("archived_code.py", str(store), "complete", "missing", "broken").ok().data


def run_snapshot(api: Api, snapshot_id: str) -> dict:
    response = api.post(f"/pipeline_snapshots/{snapshot_id}/runs", {})
    assert response.status_code == 200, response.text
    return api.wait_finished(response.json()["id"])


def test_a_snapshot_whose_code_is_only_in_an_archive_is_downloaded_and_completes(api, mlmeta_server, archived, worker):
    snapshot = archived["complete"]
    assert not (SCRIPTS / "archived_complete.py").exists(), "the runner's source root must not have the code"
    stored = api.get(f"/pipeline_snapshots/{snapshot['snapshot_id']}")
    assert stored["metadata"]["code_path"] == snapshot["code_path"]
    run = run_snapshot(api, snapshot["snapshot_id"])
    assert run["body"]["status"] == "completed", json.dumps(run["body"])[:2000]
    steps = api.get("/steps", pipeline_run_id=run["id"], size=50)["items"]
    assert sorted((step["name"], step["body"]["status"]) for step in steps) == [
        ("consume", "completed"),
        ("produce", "completed"),
    ]
    log = Path(mlmeta_server.env["MLMETA_VAR_DIR"]) / "runner-logs" / f"{run['id']}.log"
    assert f"Downloading code from artifact store path `{snapshot['code_path']}`" in log.read_text()
    # The run completes before the runner process exits; the task removes the work dir after.
    work_dirs = (log.parents[1] / "runner-home" / run["id"]).glob
    deadline = time.monotonic() + 60
    while list(work_dirs("work-*")):
        assert time.monotonic() < deadline, "the work dir with the downloaded code stays behind"
        time.sleep(0.5)


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("missing", "archive {name} is not in the artifact store."),
        ("broken", "{name} is not a readable archive."),
    ],
)
def test_a_missing_or_broken_code_archive_fails_the_run_with_a_readable_reason(api, archived, worker, damage, reason):
    archive = Path(archived[damage]["code_path"])
    if damage == "missing":
        archive.unlink()
    else:
        archive.write_bytes(b"not a tar archive")
    run = run_snapshot(api, archived[damage]["snapshot_id"])
    assert run["body"]["status"] == "failed"
    expected = "Could not download the snapshot's code: " + reason.format(name=archive.name)
    assert run["body"]["status_reason"] == f"The runner exited with code 1: {expected}"


def test_a_worker_killed_mid_task_still_yields_exactly_one_run(api, mlmeta_server, recorded_run, tmp_path):
    """On Redis (unacked tasks come back): worker A claims the run and starts its runner, is
    SIGKILLed; worker B gets the redelivered task, finds the claim and launches nothing."""
    env = worker_env(
        mlmeta_server,
        CELERY_BROKER_URL=REDIS_URL,
        MLMETA_BROKER_OPTIONS=json.dumps(
            {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
        ),
    )
    subprocess.run([sys.executable, "-m", "celery", "-A", "config", "purge", "-f"], cwd=ROOT, env=env, check=True)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    worker_a = start_worker(env, log_a, "killed")
    try:
        launched = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", LAUNCH.format(run_id=recorded_run["id"])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert launched.returncode == 0, launched.stderr
        run_id = launched.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        # Claimed by A, runner started (not yet finished): kill A now.
        while True:
            body = api.get(f"/runs/{run_id}")["body"]
            if body["status"] == "running" or body.get("status_reason") == "Starting the runner.":
                break
            assert body["status"] == "initializing", body
            assert time.monotonic() < deadline, "worker A never claimed the run"
            time.sleep(0.1)
        worker_a.send_signal(signal.SIGKILL)
        worker_a.wait()
        worker_b = start_worker(env, log_b, "redelivered")
        try:
            wait_for_text(log_b, "already claimed or not initializing", worker_b, timeout=90)
        finally:
            end(worker_b)
        run = api.wait_finished(run_id)
        assert_ran_like_the_client(api, run, recorded_run)
        snapshot_id = run["resources"]["snapshot"]["id"]
        runs = api.get("/runs", snapshot_id=snapshot_id, size=10)
        assert [r["id"] for r in runs["items"]] == [run_id]
    finally:
        end(worker_a)


# Run inside `manage.py shell` with the worker's env: launch a replay so its task goes to Redis.
LAUNCH = """
from django.db import transaction
from mlmeta import launching
from mlmeta.models import PipelineRun
source = PipelineRun.objects.get(pk="{run_id}")
with transaction.atomic():
    run = launching.replay_run(source, user=source.user)
print(run.pk)
"""
