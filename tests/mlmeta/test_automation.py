"""Schedules and triggers without a worker: the dashboard pages, the PeriodicTask kept in step by
the API, and the rules fire() applies (the real worker and beat: test_automation_worker.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from mlmeta import scheduling, triggers
from mlmeta.models import Pipeline, PipelineSnapshot, Schedule, Stack
from mlmeta.models.automation import Trigger
from tenants import crypto
from tenants.models import Project
from tests.api_helpers import bearer_client
from tests.conftest import make_user


@pytest.fixture
def snapshot(tenant_a, alice):
    project = Project.objects.get(tenant=tenant_a, name="default")
    stack = Stack.objects.create(tenant=tenant_a, name="s")
    pipeline = Pipeline.objects.create(project=project, user=alice, name="train")
    return PipelineSnapshot.objects.create(
        project=project, user=alice, pipeline=pipeline, stack=stack, run_name_template="r-{date}"
    )


def test_dashboard_creates_a_schedule_and_its_periodic_task(alice_client, snapshot):
    response = alice_client.post(
        "/schedules/new",
        {
            "name": "nightly",
            "snapshot": snapshot.pk,
            "cron_expression": "0 3 * * *",
            "concurrency": "skip",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get(name="nightly")
    assert schedule.project_id == snapshot.project_id and schedule.pipeline_id == snapshot.pipeline_id
    task = PeriodicTask.objects.get(name=scheduling.periodic_task_name(schedule))
    assert task.crontab.minute == "0" and task.crontab.hour == "3" and task.task == "mlmeta.fire_schedule"
    page = alice_client.get("/schedules/")
    assert "nightly" in page.content.decode() and "0 3 * * *" in page.content.decode()

    response = alice_client.post(
        f"/schedules/{schedule.pk}/",
        {"name": "nightly", "snapshot": snapshot.pk, "interval_seconds": 60, "concurrency": "queue"},
    )
    assert response.status_code == 302
    assert not PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()  # inactive


def test_dashboard_rejects_a_bad_cron_expression(alice_client, snapshot):
    response = alice_client.post(
        "/schedules/new", {"name": "x", "snapshot": snapshot.pk, "cron_expression": "every day", "concurrency": "skip"}
    )
    assert response.status_code == 422 and "five fields" in response.content.decode()
    assert not Schedule.objects.exists()


def test_dashboard_trigger_secret_is_shown_once_and_stored_sealed(alice_client, snapshot):
    response = alice_client.post(
        "/triggers/new", {"name": "on-push", "event": "github_push", "action": "run_snapshot", "snapshot": snapshot.pk}
    )
    assert response.status_code == 200
    trigger = Trigger.objects.get(name="on-push")
    secret = crypto.open_(trigger.secret_sealed)
    assert secret in response.content.decode() and secret not in trigger.secret_sealed
    assert secret not in alice_client.get("/triggers/").content.decode()
    assert secret not in alice_client.get(f"/triggers/{trigger.pk}/").content.decode()


def test_other_tenants_do_not_see_schedules_or_triggers(charlie_client, snapshot):
    Trigger.objects.create(project=snapshot.project, name="secret-trigger-xyz", event="webhook", action="run_snapshot")
    assert "secret-trigger-xyz" not in charlie_client.get("/t/beta/triggers/").content.decode()


def test_a_viewer_may_not_create_a_schedule(client, tenant_a, snapshot):
    viewer = make_user("vera", tenant_a, role="tenant-viewer")
    client.force_login(viewer)
    response = client.post(
        "/schedules/new", {"name": "n", "snapshot": snapshot.pk, "interval_seconds": 5, "concurrency": "skip"}
    )
    assert response.status_code in (403, 422)
    assert not Schedule.objects.exists()


def test_api_schedule_with_a_snapshot_gets_a_periodic_task(tenant_a, alice, snapshot):
    api = bearer_client(alice, tenant_a)
    body = {
        "name": "every-minute",
        "active": True,
        "interval_second": "PT1M",
        "orchestrator_id": None,
        "pipeline_id": str(snapshot.pipeline_id),
        "project": str(snapshot.project_id),
        "snapshot_id": str(snapshot.pk),
        "max_runs": 3,
        "concurrency": "queue",
    }
    response = api.post("/api/v1/schedules", body, format="json")
    assert response.status_code == 200, response.content
    schedule = Schedule.objects.get(pk=response.json()["id"])
    assert schedule.max_runs == 3 and schedule.snapshot_id == snapshot.pk
    task = PeriodicTask.objects.get(name=scheduling.periodic_task_name(schedule))
    assert task.interval.every == 60
    bad = api.post("/api/v1/schedules", {**body, "name": "bad", "max_runs": 0}, format="json")
    assert bad.status_code == 422 and "max_runs" in bad.content.decode()
    assert api.delete(f"/api/v1/schedules/{schedule.pk}").status_code == 200
    assert not PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()


def test_fire_respects_end_time_and_max_runs_without_launching(db, snapshot, alice):
    ended = Schedule.objects.create(
        project=snapshot.project,
        user=alice,
        name="e",
        snapshot=snapshot,
        interval_second=timedelta(seconds=1),
        end_time=timezone.now() - timedelta(seconds=1),
    )
    assert scheduling.fire(ended.pk, "t") == "ended"
    ended.refresh_from_db()
    assert not ended.active
    full = Schedule.objects.create(
        project=snapshot.project,
        user=alice,
        name="f",
        snapshot=snapshot,
        interval_second=timedelta(seconds=1),
        max_runs=1,
    )
    Schedule.objects.filter(pk=full.pk).update(run_count=1)
    assert scheduling.fire(full.pk, "t") == "max runs"


def test_signatures_verify_only_the_signed_body():
    signature = triggers.sign(b"k", b'{"a": 1}')
    assert triggers.verify(b"k", b'{"a": 1}', signature)
    assert not triggers.verify(b"k", b'{"a": 2}', signature)
    assert not triggers.verify(b"other", b'{"a": 1}', signature)
    assert not triggers.verify(b"k", b'{"a": 1}', None)


def test_a_run_started_by_a_trigger_does_not_fire_it_again(snapshot, alice, django_capture_on_commit_callbacks):
    from mlmeta.choices import ExecutionStatus
    from mlmeta.models import PipelineRun

    trigger = Trigger.objects.create(
        project=snapshot.project,
        user=alice,
        name="loop",
        event="run_completed",
        pipeline=snapshot.pipeline,
        action="run_snapshot",
        snapshot=snapshot,
    )
    own = {"trigger": {"type": "trigger", "id": str(trigger.pk)}}
    with django_capture_on_commit_callbacks() as callbacks:
        PipelineRun.objects.create(
            project=snapshot.project,
            user=alice,
            name="r1",
            pipeline=snapshot.pipeline,
            snapshot=snapshot,
            status=ExecutionStatus.COMPLETED,
            launch=own,
        )
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        PipelineRun.objects.create(
            project=snapshot.project,
            user=alice,
            name="r2",
            pipeline=snapshot.pipeline,
            snapshot=snapshot,
            status=ExecutionStatus.COMPLETED,
        )
    assert len(callbacks) == 1


def test_a_run_the_launcher_fails_fires_the_run_failed_triggers(snapshot, alice, django_capture_on_commit_callbacks):
    from mlmeta import launching
    from mlmeta.models import PipelineRun

    Trigger.objects.create(
        project=snapshot.project,
        user=alice,
        name="on-failure",
        event="run_failed",
        pipeline=snapshot.pipeline,
        action="run_snapshot",
        snapshot=snapshot,
    )
    run = PipelineRun.objects.create(
        project=snapshot.project, user=alice, name="r3", pipeline=snapshot.pipeline, snapshot=snapshot
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert launching.fail(run.pk, "The runner could not start.")
    assert len(callbacks) == 1
