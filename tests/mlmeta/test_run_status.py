"""How a run's status follows from its steps (wire.md 9.1) and which client updates it accepts."""

import pytest

from mlmeta.choices import ExecutionStatus as S
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, StepRun
from mlmeta.run_status import accepts, derive_run_status, latest_per_step
from tenants.models import Project


@pytest.mark.parametrize(
    ("current", "steps", "expected", "result"),
    [
        (S.INITIALIZING, [], 2, S.INITIALIZING),
        (S.INITIALIZING, [S.RUNNING], 2, S.RUNNING),
        (S.RUNNING, [S.COMPLETED], 2, S.RUNNING),
        (S.RUNNING, [S.COMPLETED, S.CACHED], 2, S.COMPLETED),
        (S.INITIALIZING, [S.CACHED, S.CACHED], 2, S.COMPLETED),
        (S.RUNNING, [S.COMPLETED, S.FAILED], 3, S.FAILED),
        (S.STOPPING, [S.COMPLETED, S.RUNNING], 2, S.STOPPING),
        (S.STOPPING, [S.COMPLETED, S.STOPPED], 2, S.STOPPED),
        (S.RUNNING, [S.COMPLETED, S.COMPLETED], None, S.RUNNING),  # dynamic: the orchestrator ends it
        (S.COMPLETED, [S.FAILED], 1, S.COMPLETED),  # finished runs keep their status
    ],
)
def test_run_status_derives_from_step_statuses(current, steps, expected, result):
    assert derive_run_status(current, steps, expected) == result


@pytest.mark.parametrize(
    ("current", "new", "accepted"),
    [
        (S.INITIALIZING, S.PROVISIONING, True),
        (S.INITIALIZING, S.RUNNING, True),
        (S.RUNNING, S.PROVISIONING, False),
        (S.RUNNING, S.INITIALIZING, False),
        (S.RUNNING, S.FAILED, True),
        (S.COMPLETED, S.RUNNING, False),
        (S.COMPLETED, S.FAILED, False),
    ],
)
def test_client_status_updates_only_move_forward(current, new, accepted):
    assert accepts(current, new) is accepted


def test_retried_step_versions_are_superseded():
    rows = [("train", 1, S.RETRIED), ("train", 2, S.COMPLETED), ("load", 1, S.RUNNING)]
    assert latest_per_step(rows) == {"train": S.COMPLETED, "load": S.RUNNING}


@pytest.fixture
def run(tenant_a):
    project = Project.objects.get(tenant=tenant_a, name="default")
    pipeline = Pipeline.objects.create(project=project, name="train")
    snapshot = PipelineSnapshot.objects.create(
        project=project,
        pipeline=pipeline,
        run_name_template="train",
        step_configurations={"load": {}, "fit": {}},
        pipeline_configuration={"substitutions": {"team": "ml"}},
    )
    return PipelineRun.objects.create(project=project, pipeline=pipeline, snapshot=snapshot, name="r1")


def test_refresh_status_completes_the_run_when_every_snapshot_step_is_done(run):
    load = StepRun.objects.create(project=run.project, pipeline_run=run, name="load", status=S.RUNNING)
    assert run.refresh_status() == S.RUNNING
    load.update_status(S.COMPLETED)
    run.refresh_from_db()
    assert run.status == S.RUNNING and run.end_time is None
    fit = StepRun.objects.create(project=run.project, pipeline_run=run, name="fit", status=S.RUNNING)
    fit.update_status(S.CACHED)
    run.refresh_from_db()
    assert run.status == S.COMPLETED and run.end_time is not None and not run.in_progress


def test_update_status_ignores_late_updates(run):
    assert run.update_status(S.RUNNING) is True
    assert run.update_status(S.PROVISIONING) is False
    run.refresh_from_db()
    assert run.status == S.RUNNING
    assert run.update_status(S.FAILED, reason="boom") is True
    run.refresh_from_db()
    assert (run.status, run.status_reason) == (S.FAILED, "boom") and run.end_time is not None


def test_substitutions_add_date_and_time_of_the_start(run):
    values = run.substitutions()
    assert values["team"] == "ml"
    assert values["date"] == run.created.strftime("%Y_%m_%d")
    assert len(values["time"].split("_")) == 4


def test_stop_marks_unfinished_steps_stopped(run):
    StepRun.objects.create(project=run.project, pipeline_run=run, name="load", status=S.RUNNING)
    run.request_stop(graceful=False)
    run.refresh_from_db()
    assert run.status == S.STOPPED
    assert run.steps.get().status == S.STOPPED
