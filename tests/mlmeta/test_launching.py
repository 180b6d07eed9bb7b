"""Server-side runs without a worker: the launch API (validation before anything is queued,
permissions), the task's claim and failure handling, and the webhook and kubernetes runners."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from mlmeta import launching, runners, tasks
from mlmeta.choices import ExecutionStatus
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Stack
from mlmeta.runners.kubernetes import KubernetesRunner
from mlmeta.runners.webhook import SIGNATURE_HEADER, WebhookRunner
from tests.api_helpers import bearer_client
from tests.conftest import make_user


@pytest.fixture
def snapshot(tenant, project):
    pipeline = Pipeline.objects.create(project=project, name="training")
    return PipelineSnapshot.objects.create(
        project=project,
        pipeline=pipeline,
        stack=Stack.objects.get(tenant=tenant, name="default"),
        run_name_template="training-{date}-{time}",
        pipeline_configuration={"name": "training", "parameters": {"epochs": 3}},
        step_configurations={"train": {"config": {"name": "train", "parameters": {"epochs": 3, "lr": 0.1}}}},
        config_schema={
            "type": "object",
            "properties": {"parameters": {"type": "object", "properties": {"epochs": {"type": "integer"}}}},
        },
    )


@pytest.fixture
def admin(tenant):
    return make_user("runadmin", tenant, is_admin=True)


@pytest.fixture
def queued(monkeypatch):
    """Task ids sent to the broker (the task itself is not run)."""
    sent = []
    monkeypatch.setattr(tasks.run_snapshot, "delay", lambda run_id: sent.append(run_id))
    return sent


def launch(api, snapshot, body=None):
    return api.post(f"/api/v1/pipeline_snapshots/{snapshot.pk}/runs", body or {}, format="json")


def test_launch_creates_the_run_first_and_queues_its_id_on_commit(
    api, snapshot, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = launch(api, snapshot, {"run_configuration": {"parameters": {"epochs": 5}}})
    assert response.status_code == 200, response.content
    run = PipelineRun.objects.get(pk=response.json()["id"])
    assert run.status == ExecutionStatus.INITIALIZING
    assert run.status_reason == launching.QUEUED_REASON
    assert queued == [str(run.pk)]
    # The run has its own snapshot carrying the override, derived from the launched one.
    assert run.snapshot != snapshot and run.snapshot.source_snapshot == snapshot
    assert run.snapshot.pipeline_configuration["parameters"] == {"epochs": 5}
    assert run.snapshot.step_configurations["train"]["config"]["parameters"] == {"epochs": 5, "lr": 0.1}
    assert run.launch["trigger"] == {"type": "api"} and run.launch["runner"] == "local"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_configuration": {"parameters": {"epochs": "many"}}}, "epochs"),
        ({"run_configuration": {"parameters": {"nope": 1}}}, "nope"),
        ({"run_configuration": {"steps": {"train": {"parameters": {"lr": "fast"}}}}}, "lr"),
        ({"run_configuration": {"steps": {"missing": {}}}}, "missing"),
        ({"run_configuration": {"enable_cache": "yes"}}, "enable_cache"),
        ({"run_configuration": {"build": "x"}}, "build"),
        ({"parameters": {"epochs": 5}}, "parameters"),
    ],
)
def test_bad_overrides_are_422_naming_the_field_and_nothing_is_queued(api, snapshot, queued, body, field):
    before = PipelineRun.objects.count(), PipelineSnapshot.objects.count()
    response = launch(api, snapshot, body)
    assert response.status_code == 422, response.content
    assert field in json.dumps(response.json())
    assert (PipelineRun.objects.count(), PipelineSnapshot.objects.count()) == before
    assert queued == []


def test_a_snapshot_without_stack_or_with_an_unknown_runner_is_refused(api, snapshot, queued):
    Stack.objects.filter(pk=snapshot.stack_id).update(labels={runners.STACK_LABEL: "nowhere"})
    response = launch(api, snapshot)
    assert response.status_code == 422 and "nowhere" in response.json()["detail"][1]
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(stack=None)
    response = launch(api, snapshot)
    assert response.status_code == 422 and "no stack" in response.json()["detail"][1]
    assert PipelineRun.objects.count() == 0 and queued == []


def test_a_viewer_may_not_run_a_snapshot(tenant, snapshot, queued):
    viewer = make_user("viewer", tenant, role="tenant-viewer")
    response = launch(bearer_client(viewer, tenant), snapshot)
    assert response.status_code == 403
    assert PipelineRun.objects.count() == 0 and queued == []


def test_replay_reruns_a_runs_snapshot_and_points_back_at_the_run(
    api, snapshot, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = launch(api, snapshot, {"run_configuration": {"parameters": {"epochs": 7}}}).json()
        response = api.post(f"/api/v1/runs/{first['id']}/replay", {}, format="json")
    assert response.status_code == 200, response.content
    replayed = PipelineRun.objects.get(pk=response.json()["id"])
    assert replayed.original_run_id is not None and str(replayed.original_run_id) == first["id"]
    assert replayed.snapshot.pipeline_configuration["parameters"] == {"epochs": 7}
    assert replayed.launch["trigger"]["type"] == "replay"
    assert len(queued) == 2


def test_the_task_claims_once_and_a_failing_runner_fails_the_run_readably(admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    broken = mock.Mock(waits=True)
    broken.launch.side_effect = runners.RunnerError("The runner exited with code 1: ModuleNotFoundError: train")
    with mock.patch.object(runners, "get", return_value=broken):
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "failed"
        # A redelivered task finds the run claimed and launches nothing.
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "already claimed or not initializing"
    assert broken.launch.call_count == 1
    run.refresh_from_db()
    assert run.status == ExecutionStatus.FAILED
    assert run.status_reason == "The runner exited with code 1: ModuleNotFoundError: train"
    assert run.end_time is not None


def test_an_unavailable_runner_releases_the_claim_and_retries(admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    down = mock.Mock(waits=False)
    down.launch.side_effect = runners.RunnerUnavailable("The webhook could not be reached: refused")
    with mock.patch.object(runners, "get", return_value=down), mock.patch.object(tasks.run_snapshot, "retry") as retry:
        retry.side_effect = RuntimeError("retry scheduled")
        with pytest.raises(RuntimeError, match="retry scheduled"):
            tasks.run_snapshot.run(str(run.pk))
    assert retry.call_args.kwargs["countdown"] == 4
    run.refresh_from_db()
    assert run.status == ExecutionStatus.INITIALIZING and run.runner_claimed_at is None
    assert run.status_reason.startswith("Retrying: The webhook could not be reached")


def test_a_claim_abandoned_by_a_dead_worker_fails_the_run(admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    assert tasks.claim(run.pk)
    with override_settings(MLMETA_RUNNER_CLAIM_SECONDS=0):
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "abandoned"
    run.refresh_from_db()
    assert run.status == ExecutionStatus.FAILED and "lost" in run.status_reason


def test_a_local_runner_that_cannot_import_the_pipeline_fails_the_run(admin, snapshot, queued, tmp_path):
    run = launching.launch_snapshot(snapshot, user=admin)
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho 'Traceback...'\necho 'RuntimeError: no zenml here' >&2\nexit 3\n")
    script.chmod(0o755)
    with override_settings(MLMETA_RUNNER_PYTHON=str(script), VAR_DIR=tmp_path):
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "failed"
    run.refresh_from_db()
    assert run.status == ExecutionStatus.FAILED
    assert run.status_reason == "The runner exited with code 3: RuntimeError: no zenml here"


def test_a_local_runner_downloads_code_into_a_work_dir_it_removes_afterwards(admin, snapshot, queued, tmp_path):
    """The entrypoint gets (source root, work dir) before zenml's arguments; a long reason is cut."""
    run = launching.launch_snapshot(snapshot, user=admin)
    script = tmp_path / "python"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1|$2|$3|$4" > {tmp_path / "arguments"}\n'
        'touch "$3/code.tar.gz"\n'
        f'echo "Could not download the snapshot\'s code: {"x" * 300}" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    with override_settings(MLMETA_RUNNER_PYTHON=str(script), VAR_DIR=tmp_path, MLMETA_RUNNER_SOURCE_ROOT=str(tmp_path)):
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "failed"
    entrypoint, source_root, work_dir, option = (tmp_path / "arguments").read_text().strip().split("|")
    assert entrypoint.endswith("mlmeta/runners/local_entrypoint.py") and option == "--entrypoint_config_source"
    assert source_root == str(tmp_path)
    assert Path(work_dir).parent == tmp_path / "runner-home" / str(run.pk) and not Path(work_dir).exists()
    run.refresh_from_db()
    assert run.status == ExecutionStatus.FAILED
    assert run.status_reason.startswith("The runner exited with code 1: Could not download the snapshot's code: xxx")
    assert run.status_reason.endswith("x…") and len(run.status_reason) == 31 + 200


def test_a_hanging_local_runner_is_stopped_by_its_timeout(admin, snapshot, queued, tmp_path):
    run = launching.launch_snapshot(snapshot, user=admin)
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    with override_settings(MLMETA_RUNNER_PYTHON=str(script), VAR_DIR=tmp_path, MLMETA_RUNNER_TIMEOUT=1):
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "failed"
    run.refresh_from_db()
    assert run.status == ExecutionStatus.FAILED and "within 1 seconds" in run.status_reason


def test_stop_ends_a_queued_server_side_run(api, admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    assert api.post(f"/api/v1/runs/{run.pk}/stop").status_code == 200
    run.refresh_from_db()
    assert run.status == ExecutionStatus.STOPPED
    assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "already claimed or not initializing"


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_the_webhook_runner_posts_a_signed_payload_with_a_workload_token(admin, snapshot, queued, receiver):
    run = launching.launch_snapshot(snapshot, user=admin)
    configured = {"webhook": {"class": "mlmeta.runners.webhook.WebhookRunner", "url": receiver, "secret": "s3cr3t"}}
    with override_settings(MLMETA_RUNNERS=configured):
        run.launch = {**run.launch, "runner": "webhook"}
        run.save(update_fields=["launch"])
        assert tasks.run_snapshot.apply(args=[str(run.pk)]).get() == "dispatched"
    ((headers, body),) = Receiver.received
    expected = "sha256=" + hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == expected
    tampered = body.replace(str(run.pk).encode(), b"0" * 36)
    assert "sha256=" + hmac.new(b"s3cr3t", tampered, hashlib.sha256).hexdigest() != expected
    payload = json.loads(body)
    assert payload["run_id"] == str(run.pk) and payload["snapshot_id"] == str(run.snapshot_id)
    from tenants import tokens

    claims = tokens.decode(payload["token"], run.tenant)
    assert claims["pipeline_run_id"] == str(run.pk) and claims["sub"] == admin.pk
    run.refresh_from_db()
    assert run.status == ExecutionStatus.INITIALIZING and run.status_reason == "Dispatched to the webhook runner."


def test_a_webhook_that_refuses_fails_the_run(admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    runner = WebhookRunner("webhook", kind="github", repository="acme/ml", workflow="run.yml", token="t")
    request = runner.request(run, runners.environment(run))
    assert request.full_url == "https://api.github.com/repos/acme/ml/actions/workflows/run.yml/dispatches"
    assert json.loads(request.data)["inputs"]["run_id"] == str(run.pk)
    gitlab = WebhookRunner("w", kind="gitlab", project="42", token="trig").request(run, runners.environment(run))
    assert gitlab.full_url == "https://gitlab.com/api/v4/projects/42/trigger/pipeline"
    assert f"variables%5BMLMETA_RUN_ID%5D={run.pk}" in gitlab.data.decode()


def test_the_kubernetes_runner_builds_a_job_running_the_snapshot_entrypoint(admin, snapshot, queued):
    from kubernetes import client

    run = launching.launch_snapshot(snapshot, user=admin)
    runner = KubernetesRunner("kubernetes", image="registry/ml:1", namespace="ml", service_account="runner")
    environment = runners.environment(run)
    job = runner.build_job(run, environment)
    assert isinstance(job, client.V1Job) and job.metadata.namespace == "ml"
    serialized = client.ApiClient().sanitize_for_serialization(job)
    container = serialized["spec"]["template"]["spec"]["containers"][0]
    assert serialized["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert serialized["spec"]["backoffLimit"] == 0
    assert container["image"] == "registry/ml:1"
    assert container["args"] == runners.entrypoint_arguments(run)
    env = {item["name"]: item for item in container["env"]}
    assert env["ZENML_STORE_URL"]["value"] == environment["ZENML_STORE_URL"]
    # The token is never in the pod spec: it comes from the job's Secret.
    assert "value" not in env["ZENML_STORE_API_TOKEN"]
    assert environment["ZENML_STORE_API_TOKEN"] not in json.dumps(serialized)
    secret = runner.build_secret(run, environment)
    assert secret.metadata.name == job.metadata.name
    with pytest.raises(runners.RunnerError, match="image"):
        KubernetesRunner("kubernetes").build_job(run, environment)


def test_the_sweeper_requeues_lost_tasks_and_fails_abandoned_claims(admin, snapshot, queued):
    lost = launching.launch_snapshot(snapshot, user=admin)
    abandoned = launching.launch_snapshot(snapshot, user=admin)
    fresh = launching.launch_snapshot(snapshot, user=admin)
    assert tasks.claim(abandoned.pk)
    old = timezone.now() - timedelta(hours=1)
    PipelineRun.objects.filter(pk__in=[lost.pk, abandoned.pk]).update(created=old, runner_claimed_at=None)
    PipelineRun.objects.filter(pk=abandoned.pk).update(runner_claimed_at=old)
    assert tasks.sweep_server_side_runs() == {"requeued": 1, "failed": 1}
    assert queued == [str(lost.pk)]
    statuses = dict(PipelineRun.objects.filter(pk__in=[lost.pk, abandoned.pk, fresh.pk]).values_list("pk", "status"))
    assert statuses == {lost.pk: "initializing", abandoned.pk: "failed", fresh.pk: "initializing"}


def test_the_dashboard_reruns_a_run_and_shows_why_a_server_side_run_failed(client, admin, snapshot, queued):
    source = launching.launch_snapshot(snapshot, user=admin)
    launching.fail(source.pk, "The runner exited with code 1: ModuleNotFoundError: train")
    client.force_login(admin)
    page = client.get(f"/runs/{source.pk}/").content.decode()
    assert "The runner exited with code 1: ModuleNotFoundError: train" in page
    assert f'action="/runs/{source.pk}/rerun"' in page
    response = client.post(f"/runs/{source.pk}/rerun")
    assert response.status_code == 302
    rerun = PipelineRun.objects.exclude(pk=source.pk).get(original_run=source)
    assert response["Location"] == f"/runs/{rerun.pk}/"
    assert rerun.status == ExecutionStatus.INITIALIZING and rerun.launch["trigger"]["type"] == "replay"
    page = client.get(f"/runs/{rerun.pk}/").content.decode()
    assert "re-run of" in page and launching.QUEUED_REASON in page
    # Stop on the dashboard ends a queued server-side run too.
    assert client.post(f"/runs/{rerun.pk}/stop").status_code == 302
    rerun.refresh_from_db()
    assert rerun.status == ExecutionStatus.STOPPED


def test_a_viewer_sees_no_rerun_button_and_may_not_post_one(client, tenant, admin, snapshot, queued):
    source = launching.launch_snapshot(snapshot, user=admin)
    viewer = make_user("viewer", tenant, role="tenant-viewer")
    client.force_login(viewer)
    assert "/rerun" not in client.get(f"/runs/{source.pk}/").content.decode()
    assert client.post(f"/runs/{source.pk}/rerun").status_code == 403
    assert PipelineRun.objects.count() == 1


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ({"class": "mlmeta.runners.local.LocalRunner", "python": "/nonexistent/python"}, "does not exist"),
        ({"class": "mlmeta.runners.kubernetes.KubernetesRunner"}, "no `image`"),
        ({"class": "mlmeta.runners.webhook.WebhookRunner", "kind": "github", "repository": "a/b"}, "workflow, token"),
    ],
)
def test_a_runner_that_cannot_run_the_snapshot_refuses_it_before_queueing(api, snapshot, queued, runner, message):
    with override_settings(MLMETA_RUNNERS={"chosen": runner}, MLMETA_DEFAULT_RUNNER="chosen"):
        response = launch(api, snapshot)
    assert response.status_code == 422 and message in response.json()["detail"][1]
    assert PipelineRun.objects.count() == 0 and queued == []
