"""Schedules and triggers with a REAL Celery worker and a REAL celery beat (processes started
here, on the configured broker: Redis in CI, the embedded filesystem broker otherwise).

The worker cannot see pytest-django's in-memory test database, so this module swaps the default
connection for a SQLite file that it migrates itself and hands to the processes (DATABASE_URL).
Runs are launched through mlmeta.launching with the runners of tests/mlmeta/noop_runner.py.
"Broker restarted with triggers queued" is tested on a redis-server of the tests' own
(tests/redis_server.py), really restarted: with the worker stopped (the queued dispatches run
once each when a worker comes) and with the worker up (it reconnects and runs the next one)."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from mlmeta import scheduling, triggers
from mlmeta.choices import ExecutionStatus
from mlmeta.models import Model, ModelVersion, Pipeline, PipelineRun, PipelineSnapshot, Schedule, Stack
from mlmeta.models.automation import Trigger, TriggerDispatch
from tenants import access
from tenants.models import AuditEvent, Project, User
from tenants.services import create_tenant
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
RUNNERS_JSON = json.dumps(
    {
        "noop": {"class": "tests.mlmeta.noop_runner.NoopRunner"},
        "complete": {"class": "tests.mlmeta.noop_runner.CompletingRunner"},
    }
)


class Processes:
    """The worker and beat processes on `broker_url` (the configured broker by default),
    restartable (the worker) within the module."""

    def __init__(self, tmp: Path, database: Path, broker_url: str | None = None):
        self.tmp = tmp
        self.env = {
            **os.environ,
            "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
            "MLMETA_VAR_DIR": str(settings.VAR_DIR),
            "DATABASE_URL": f"sqlite:///{database}",
            "MLMETA_RUNNERS_JSON": RUNNERS_JSON,
        }
        self.worker = self.beat = None
        self.starts = 0

    def spawn(self, name: str, *args: str):
        log = self.tmp / f"{name}-{self.starts}.log"
        command = [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "INFO"]
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return process, log

    def start_worker(self):
        self.starts += 1
        hostname = f"automation-{os.getpid()}-{self.starts}@%h"
        self.worker, self.worker_log = self.spawn(
            "worker", "worker", "--pool", "solo", "--without-gossip", "--without-mingle", "--hostname", hostname
        )
        wait_for_text(self.worker_log, "ready.", self.worker)

    def start_beat(self):
        self.beat, self.beat_log = self.spawn("beat", "beat", "--max-interval", "1", "-s", str(self.tmp / "beat-db"))

    def stop(self, process):
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def wait_for_text(log: Path, text: str, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen:\n{log.read_text()[-3000:]}")


def wait_until(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"Timed out waiting for {what}.")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory, django_db_blocker):
    """A migrated SQLite file as the default connection of this process (and of the workers)."""
    tmp = tmp_path_factory.mktemp("automation")
    database = tmp / "mlmeta.sqlite3"
    original = connections["default"]
    settings_dict = {
        **original.settings_dict,
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(database),
        "HOST": "",
        "PORT": "",
        "USER": "",
        "PASSWORD": "",
        "CONN_MAX_AGE": 0,
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
    }
    with django_db_blocker.unblock():
        connections["default"] = DatabaseWrapper(settings_dict, alias="default")
        try:
            call_command("migrate", verbosity=0)
            yield tmp, database
        finally:
            connections["default"].close()
            connections["default"] = original


@pytest.fixture(scope="module")
def world(shared_db):
    tenant = create_tenant("acme", name="Acme", is_default=True)
    owner = User.objects.create_user(username="owner", password="x-Secret-123")
    access.add_member(tenant, owner, "tenant-developer")
    project = Project.objects.get(tenant=tenant, name="default")
    stack = Stack.objects.create(tenant=tenant, name="noop-stack", labels={"mlmeta.runner": "noop"})
    completing = Stack.objects.create(tenant=tenant, name="completing-stack", labels={"mlmeta.runner": "complete"})
    return {"tenant": tenant, "owner": owner, "project": project, "stack": stack, "completing_stack": completing}


@pytest.fixture(scope="module")
def processes(shared_db, world):
    tmp, database = shared_db
    procs = Processes(tmp, database)
    procs.start_worker()
    procs.start_beat()
    yield procs
    procs.stop(procs.beat)
    procs.stop(procs.worker)


def make_snapshot(world, pipeline_name: str, stack: Stack | None = None) -> PipelineSnapshot:
    pipeline = Pipeline.objects.create(project=world["project"], user=world["owner"], name=pipeline_name)
    return PipelineSnapshot.objects.create(
        project=world["project"],
        user=world["owner"],
        pipeline=pipeline,
        stack=stack or world["stack"],
        run_name_template=f"{pipeline_name}-{{date}}-{{time}}",
        pipeline_configuration={"name": pipeline_name, "parameters": {}},
    )


def runs_of(snapshot) -> list[PipelineRun]:
    return list(PipelineRun.objects.filter(pipeline_id=snapshot.pipeline_id).order_by("created"))


def finish_run(world, snapshot, name: str) -> PipelineRun:
    """A client-reported run of `snapshot` that completes (its 'run completed' triggers fire)."""
    run = PipelineRun.objects.create(
        project=world["project"], user=world["owner"], name=name, pipeline=snapshot.pipeline, snapshot=snapshot
    )
    run.update_status(ExecutionStatus.COMPLETED)
    return run


def make_schedule(world, snapshot, **fields) -> Schedule:
    schedule = Schedule.objects.create(
        project=world["project"],
        user=world["owner"],
        name=f"every-second-{uuid.uuid4().hex[:6]}",
        snapshot=snapshot,
        interval_second=timedelta(seconds=1),
        **fields,
    )
    scheduling.sync(schedule)
    return schedule


# Schedules ------------------------------------------------------------------------------------


def test_interval_schedule_fires_on_time_until_max_runs(processes, world):
    snapshot = make_snapshot(world, "scheduled")
    started = timezone.now()
    schedule = make_schedule(world, snapshot, max_runs=2, concurrency="queue")
    assert PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule), enabled=True).exists()

    runs = wait_until(lambda: len(runs_of(snapshot)) >= 2 and runs_of(snapshot), timeout=30, what="two runs")
    assert (runs[0].created - started).total_seconds() < 15
    assert all(run.launch["trigger"] == {"type": "schedule", "id": str(schedule.pk)} for run in runs)
    time.sleep(3)  # more ticks would have come by now
    schedule.refresh_from_db()
    assert len(runs_of(snapshot)) == 2
    assert schedule.run_count == 2 and not schedule.active
    assert not PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()


def test_schedule_stops_at_its_end_time(processes, world):
    snapshot = make_snapshot(world, "ending")
    end = timezone.now() + timedelta(seconds=4)
    schedule = make_schedule(world, snapshot, end_time=end, concurrency="queue")
    wait_until(lambda: runs_of(snapshot), timeout=20, what="a first run")
    wait_until(lambda: not Schedule.objects.get(pk=schedule.pk).active, timeout=20, what="the schedule to end")
    count = len(runs_of(snapshot))
    time.sleep(2.5)
    assert len(runs_of(snapshot)) == count
    # fire() checks the end before launching; the run row is written a moment later
    assert all(run.created <= end + timedelta(seconds=1) for run in runs_of(snapshot))


def test_skip_policy_waits_for_the_previous_run(processes, world):
    snapshot = make_snapshot(world, "skipping")
    schedule = make_schedule(world, snapshot, concurrency="skip")
    first = wait_until(lambda: runs_of(snapshot), timeout=20, what="a first run")[0]
    PipelineRun.objects.filter(pk=first.pk).update(status=ExecutionStatus.RUNNING)
    time.sleep(3)  # three ticks while the first run is running
    assert len(runs_of(snapshot)) == 1
    PipelineRun.objects.filter(pk=first.pk).update(status=ExecutionStatus.COMPLETED)
    wait_until(lambda: len(runs_of(snapshot)) >= 2, timeout=20, what="the next run")
    schedule.active = False
    schedule.save()
    scheduling.sync(schedule)


def test_a_redelivered_tick_launches_once(world, shared_db, settings):
    settings.MLMETA_RUNNERS = {**settings.MLMETA_RUNNERS, **json.loads(RUNNERS_JSON)}
    snapshot = make_snapshot(world, "redelivered")
    schedule = make_schedule(world, snapshot, concurrency="queue")
    schedule.active = False  # beat must not fire it meanwhile: fired by hand below
    schedule.save()
    scheduling.sync(schedule)
    Schedule.objects.filter(pk=schedule.pk).update(active=True)
    first = scheduling.fire(schedule.pk, tick_id="tick-1")
    again = scheduling.fire(schedule.pk, tick_id="tick-1")
    assert first.startswith("launched:") and again == "duplicate"
    assert len(runs_of(snapshot)) == 1
    Schedule.objects.filter(pk=schedule.pk).update(active=False)


# Triggers -------------------------------------------------------------------------------------


def make_trigger(world, **fields) -> tuple[Trigger, str]:
    trigger = Trigger(project=world["project"], user=world["owner"], name=f"t-{uuid.uuid4().hex[:6]}", **fields)
    secret = triggers.new_secret(trigger)
    trigger.save()
    return trigger, secret


def test_run_completion_trigger_runs_a_snapshot_once(processes, world):
    upstream = make_snapshot(world, "upstream")
    downstream = make_snapshot(world, "downstream")
    trigger, _ = make_trigger(
        world, event="run_completed", pipeline=upstream.pipeline, action="run_snapshot", snapshot=downstream
    )
    run = finish_run(world, upstream, "up-1")
    dispatch = wait_until(
        lambda: TriggerDispatch.objects.filter(trigger=trigger, status="succeeded").first(), what="the dispatch"
    )
    assert dispatch.event["run_id"] == str(run.pk) and dispatch.event_key == f"run:{run.pk}:completed"
    [launched] = runs_of(downstream)
    assert dispatch.run_id == launched.pk
    assert launched.launch["trigger"] == {"type": "trigger", "id": str(trigger.pk)}
    run.save()  # saved again as completed: the same event, not dispatched twice
    time.sleep(2)
    assert TriggerDispatch.objects.filter(trigger=trigger).count() == 1
    assert len(runs_of(downstream)) == 1


class Receiver(BaseHTTPRequestHandler):
    """A loopback webhook receiver verifying X-MLMeta-Signature with the shared secret."""

    secret = b""
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, self.headers.get("X-MLMeta-Signature", ""))
        self.received.append({"body": body, "valid": valid, "headers": dict(self.headers)})
        self.send_response(200 if valid else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_promotion_calls_a_signed_webhook_and_the_receiver_rejects_tampering(processes, world, receiver):
    model = Model.objects.create(project=world["project"], user=world["owner"], name="churn")
    version = ModelVersion.objects.create(model=model, user=world["owner"], project=world["project"])
    url = f"http://127.0.0.1:{receiver.server_port}/deploy"
    trigger, secret = make_trigger(
        world, event="model_promoted", model=model, stage="production", action="call_webhook", webhook_url=url
    )
    Receiver.secret = secret.encode()
    version.set_stage("staging")  # not the trigger's stage
    version.set_stage("production")
    dispatch = wait_until(
        lambda: TriggerDispatch.objects.filter(trigger=trigger).exclude(status="pending").first(), what="dispatch"
    )
    assert dispatch.status == "succeeded" and dispatch.response_code == 200
    [delivery] = Receiver.received
    assert delivery["valid"]
    payload = json.loads(delivery["body"])
    assert payload["model_version_id"] == str(version.pk) and payload["stage"] == "production"

    tampered = delivery["body"].replace(b'"production"', b'"archived"')
    answer = requests.post(
        url, data=tampered, headers={"X-MLMeta-Signature": delivery["headers"]["X-MLMeta-Signature"]}, timeout=5
    )
    assert answer.status_code == 401 and not Receiver.received[-1]["valid"]


# Inbound webhooks ---------------------------------------------------------------------------


def post_hook(trigger, body: bytes, **headers):
    return Client().post(f"/hooks/{trigger.pk}", data=body, content_type="application/json", headers=headers)


def test_inbound_github_push_starts_the_snapshot(processes, world):
    snapshot = make_snapshot(world, "on-push")
    trigger, secret = make_trigger(world, event="github_push", branch="main", action="run_snapshot", snapshot=snapshot)
    body = json.dumps({"ref": "refs/heads/main", "after": "abc123"}).encode()
    signature = triggers.sign(secret.encode(), body)
    response = post_hook(
        trigger, body, **{"X-Hub-Signature-256": signature, "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    )
    assert response.status_code == 202, response.content
    wait_until(lambda: runs_of(snapshot), what="the pushed run")
    other_branch = json.dumps({"ref": "refs/heads/dev"}).encode()
    response = post_hook(
        trigger,
        other_branch,
        **{"X-Hub-Signature-256": triggers.sign(secret.encode(), other_branch), "X-GitHub-Event": "push"},
    )
    assert response.status_code == 202 and "Ignored" in response.json()["detail"]
    time.sleep(1.5)
    assert len(runs_of(snapshot)) == 1
    assert TriggerDispatch.objects.get(trigger=trigger).status == "succeeded"


def test_inbound_generic_signed_webhook_starts_the_snapshot(processes, world):
    snapshot = make_snapshot(world, "on-hook")
    trigger, secret = make_trigger(world, event="webhook", action="run_snapshot", snapshot=snapshot)
    body = b'{"reason": "deploy"}'
    response = post_hook(trigger, body, **{"X-MLMeta-Signature": triggers.sign(secret.encode(), body)})
    assert response.status_code == 202
    wait_until(lambda: runs_of(snapshot), what="the hooked run")


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_unsigned_or_badly_signed_inbound_webhooks_are_refused(world, shared_db, signature):
    snapshot = make_snapshot(world, f"refused-{uuid.uuid4().hex[:6]}")
    trigger, _ = make_trigger(world, event="webhook", action="run_snapshot", snapshot=snapshot)
    headers = {"X-MLMeta-Signature": signature} if signature else {}
    before = AuditEvent.objects.filter(action="permission_denied", resource_id=str(trigger.pk)).count()
    response = post_hook(trigger, b'{"reason": "deploy"}', **headers)
    assert response.status_code == 401
    assert "signature" in response.json()["detail"].lower()
    assert AuditEvent.objects.filter(action="permission_denied", resource_id=str(trigger.pk)).count() == before + 1
    assert not TriggerDispatch.objects.filter(trigger=trigger).exists()
    assert not runs_of(snapshot)


# Broker/worker restart --------------------------------------------------------------------------


# The default queue's Redis key: under pytest-xdist each worker prefixes its keys (tests/conftest.py).
QUEUE = celery_app.conf.broker_transport_options.get("global_keyprefix", "") + "celery"


@contextmanager
def publishing_to(url: str):
    """This process's Celery app sends its tasks (the triggers' on-commit dispatches) to `url` meanwhile.
    broker_write_url, not broker_url: the CELERY_BROKER_URL variable (set in CI) wins over the latter."""
    previous = celery_app.conf.get("broker_write_url")

    def switch(to: str | None) -> None:
        celery_app.conf.broker_write_url = to
        celery_app._pool = None  # both pools are looked up again for the new URL
        celery_app.amqp._producer_pool = None

    switch(url)
    try:
        yield
    finally:
        switch(previous)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_worker(shared_db, world, own_redis, tmp_path):
    """A worker on `own_redis`, started by the test."""
    procs = Processes(tmp_path, shared_db[1], broker_url=own_redis.url)
    yield procs
    procs.stop(procs.worker)


def completed_downstream(trigger, snapshot, count: int):
    """The trigger's succeeded dispatches and the snapshot's completed runs, once there are `count` of each."""
    dispatches = list(TriggerDispatch.objects.filter(trigger=trigger, status="succeeded"))
    runs = [run for run in runs_of(snapshot) if run.status == ExecutionStatus.COMPLETED]
    return len(dispatches) >= count and len(runs) >= count and (dispatches, runs)


def test_triggers_queued_before_a_broker_restart_run_once_each_after_it(world, own_redis, redis_worker):
    upstream = make_snapshot(world, "before-restart")
    downstream = make_snapshot(world, "after-restart", stack=world["completing_stack"])
    trigger, _ = make_trigger(
        world, event="run_completed", pipeline=upstream.pipeline, action="run_snapshot", snapshot=downstream
    )
    with publishing_to(own_redis.url):
        finished = [finish_run(world, upstream, f"before-restart-{n}") for n in range(3)]
    queue = own_redis.client()
    assert queue.llen(QUEUE) == 3
    own_redis.restart()
    assert own_redis.starts == 2 and queue.llen(QUEUE) == 3  # the append-only file kept them
    assert not TriggerDispatch.objects.filter(trigger=trigger).exists() and not runs_of(downstream)

    redis_worker.start_worker()
    dispatches, runs = wait_until(
        lambda: completed_downstream(trigger, downstream, 3), timeout=40, what="three dispatches and runs"
    )
    assert sorted(d.event["run_id"] for d in dispatches) == sorted(str(run.pk) for run in finished)
    assert sorted(str(d.run_id) for d in dispatches) == sorted(str(run.pk) for run in runs)
    assert all(run.launch["trigger"] == {"type": "trigger", "id": str(trigger.pk)} for run in runs)
    assert TriggerDispatch.objects.filter(trigger=trigger).count() == 3 and len(runs_of(downstream)) == 3
    assert queue.llen(QUEUE) == 0


def test_a_worker_up_during_a_broker_restart_reconnects_and_runs_the_next_trigger(world, own_redis, redis_worker):
    upstream = make_snapshot(world, "during-restart")
    downstream = make_snapshot(world, "after-reconnect", stack=world["completing_stack"])
    trigger, _ = make_trigger(
        world, event="run_completed", pipeline=upstream.pipeline, action="run_snapshot", snapshot=downstream
    )
    redis_worker.start_worker()
    own_redis.restart()
    wait_for_text(redis_worker.worker_log, "Connection to broker lost", redis_worker.worker, timeout=20)
    with publishing_to(own_redis.url):
        finished = finish_run(world, upstream, "after-restart")
    [dispatch], [run] = wait_until(
        lambda: completed_downstream(trigger, downstream, 1), timeout=40, what="the dispatch after the restart"
    )
    assert dispatch.event["run_id"] == str(finished.pk) and dispatch.run_id == run.pk
    assert redis_worker.worker.poll() is None
