"""ZenML 0.98's `/api/v1/triggers` on MLMeta's automation: schedule triggers backed by a Schedule
and celery beat, platform-event triggers fired by run status changes, attached snapshots with
their run configuration and dispatch state; filters, 422s, RBAC and other tenants."""

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from mlmeta import scheduling, tasks, triggers
from mlmeta.choices import ExecutionStatus
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Schedule, Stack, Trigger, TriggerSnapshot
from tenants.models import Project
from tests.api_helpers import bearer_client
from tests.conftest import make_user


@pytest.fixture
def admin(tenant):
    return make_user("trgadmin", tenant, is_admin=True)


@pytest.fixture
def snapshot(tenant, project, admin):
    pipeline = Pipeline.objects.create(project=project, user=admin, name="training")
    return PipelineSnapshot.objects.create(
        project=project,
        user=admin,
        pipeline=pipeline,
        name="training-v1",
        stack=Stack.objects.get(tenant=tenant, name="default"),
        run_name_template="training-{date}-{time}",
        pipeline_configuration={"name": "training", "parameters": {"epochs": 3}},
        step_configurations={"train": {"config": {"name": "train", "parameters": {"epochs": 3}}}},
    )


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_snapshot, "delay", lambda run_id: sent.append(run_id))
    return sent


def schedule_body(project, **extra) -> dict:
    return {"type": "schedule", "project": str(project.pk), "name": "nightly", "cron_expression": "0 3 * * *", **extra}


def event_body(snapshot, **extra) -> dict:
    return {
        "type": "platform_event",
        "project": str(snapshot.project_id),
        "name": "after-training",
        "source_entity": {"type": "pipeline", "id": str(snapshot.pipeline_id)},
        "target_events": ["run_completed"],
        **extra,
    }


def create(api, body):
    return api.post("/api/v1/triggers", body, format="json")


def attach(api, trigger_id, snapshot, body=None, **params):
    query = "?allow_replace=true" if params.get("allow_replace") else ""
    path = f"/api/v1/triggers/{trigger_id}/pipeline_snapshots/{snapshot.pk}{query}"
    return api.put(path, body, format="json")


def test_create_schedule_trigger_is_a_beat_schedule_in_zenmls_shape(api, project):
    response = create(api, schedule_body(project, max_runs=3, concurrency="submit"))
    assert response.status_code == 200, response.content
    data = response.json()
    body = data["body"]
    assert (body["name"], body["type"], body["flavor"], body["concurrency"]) == (
        "nightly",
        "schedule",
        "native schedule",
        "submit",
    )
    assert body["cron_expression"] == "0 3 * * *" and body["max_runs"] == 3 and body["interval"] is None
    assert body["active"] is True and body["is_archived"] is False
    upcoming = datetime.fromisoformat(body["next_occurrence"])
    assert (upcoming.hour, upcoming.minute) == (3, 0)
    assert data["metadata"] == {} and "name" not in data
    resources = data["resources"]
    assert resources["snapshots"] == [] and resources["latest_run"] is None and resources["webhook"] is None
    trigger = Trigger.objects.get(pk=data["id"])
    task = PeriodicTask.objects.get(name=scheduling.periodic_task_name(trigger.schedule))
    assert task.crontab.hour == "3" and task.task == "mlmeta.fire_schedule"
    # The backing schedule is the trigger's, not one of ZenML's client-side schedules.
    assert api.get("/api/v1/schedules").json()["total"] == 0


def test_create_interval_and_run_once_triggers(api, project):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    body = create(api, schedule_body(project, cron_expression=None, interval=3600, start_time=start.isoformat()))
    assert body.status_code == 200, body.content
    assert body.json()["body"]["interval"] == 3600
    assert datetime.fromisoformat(body.json()["body"]["next_occurrence"]) == start.replace(tzinfo=None)  # naive UTC
    once = create(api, schedule_body(project, name="once", cron_expression=None, run_once_start_time=start.isoformat()))
    assert once.status_code == 200, once.content
    task = PeriodicTask.objects.get(name=scheduling.periodic_task_name(Trigger.objects.get(name="once").schedule))
    assert task.one_off and task.clocked.clocked_time == start


def test_create_platform_event_trigger(api, snapshot):
    response = create(api, event_body(snapshot, target_events=["run_completed", "run_failed"]))
    assert response.status_code == 200, response.content
    body = response.json()["body"]
    assert body["type"] == "platform_event" and body["flavor"] == "platform event"
    assert body["source_entity"] == {"type": "pipeline", "id": str(snapshot.pipeline_id)}
    assert body["target_events"] == ["run_completed", "run_failed"]
    assert Trigger.objects.get(pk=response.json()["id"]).target_events == "event:run_completed event:run_failed"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron_expression": None}, "execution option"),
        ({"run_once_start_time": "2030-01-01T00:00:00Z"}, "exactly one"),
        ({"cron_expression": None, "interval": 3600}, "start time"),
        ({"cron_expression": None, "interval": 5, "start_time": "2030-01-01T00:00:00Z"}, "interval"),
        ({"cron_expression": "every day"}, "five fields"),
        ({"start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"}, "end time"),
        ({"concurrency": "sometimes"}, "concurrency"),
        ({"max_runs": 0}, "max_runs"),
        ({"type": "cron"}, "type"),
        ({"name": None}, "name"),
    ],
)
def test_create_schedule_trigger_refuses_bad_input_with_422(api, project, change, field):
    response = create(api, schedule_body(project, **change))
    assert response.status_code == 422, response.content
    assert field in response.content.decode()
    assert not Trigger.objects.exists() and not Schedule.objects.exists()


def test_platform_event_checks_events_and_source(api, snapshot, other):
    response = create(api, event_body(snapshot, target_events=["completed"]))
    assert response.status_code == 422 and "completed" in response.content.decode()
    foreign = Pipeline.objects.create(project=Project.objects.get(tenant=other, name="default"), name="theirs")
    response = create(api, event_body(snapshot, source_entity={"type": "pipeline", "id": str(foreign.pk)}))
    assert response.status_code == 404
    assert not Trigger.objects.exists()


def test_webhook_triggers_are_404_and_names_are_unique(api, project, snapshot):
    body = {"type": "webhook", "project": str(project.pk), "name": "hook", "webhook_id": str(snapshot.pk)}
    response = create(api, {**body, "configuration": {}})
    assert response.status_code == 404 and "webhook" in response.json()["detail"][1]
    assert create(api, schedule_body(project)).status_code == 200
    assert create(api, schedule_body(project)).status_code == 409
    assert Trigger.objects.count() == 1


def test_list_triggers_filters(api, project, snapshot, django_assert_max_num_queries):
    create(api, schedule_body(project))
    create(api, schedule_body(project, name="paused", active=False))
    event = create(api, event_body(snapshot)).json()
    assert attach(api, event["id"], snapshot).status_code == 200
    archived = create(api, schedule_body(project, name="old")).json()
    assert api.delete(f"/api/v1/triggers/{archived['id']}").status_code == 200

    def names(**params):
        response = api.get("/api/v1/triggers", {"sort_by": "asc:name", **params})
        assert response.status_code == 200, response.content
        return [item["body"]["name"] for item in response.json()["items"]]

    with django_assert_max_num_queries(12):
        assert names() == ["after-training", "nightly", "paused"]
    assert names(type="schedule") == ["nightly", "paused"]
    assert names(flavor="platform event") == ["after-training"]
    assert names(active="false") == ["paused"]
    assert names(is_archived="true")[0].startswith("old_(")
    assert names(snapshot_id=str(snapshot.pk)) == ["after-training"]
    assert names(pipeline_id=str(snapshot.pipeline_id)) == ["after-training"]
    assert names(webhook_id=str(snapshot.pk)) == []
    assert api.get("/api/v1/triggers", {"is_archived": "maybe"}).status_code == 422


def test_update_replaces_the_cadence_and_refuses_another_type(api, project, snapshot):
    trigger = create(api, schedule_body(project, max_runs=2)).json()
    start = "2030-01-01T00:00:00Z"
    body = {"type": "schedule", "name": "hourly", "interval": 3600, "start_time": start}
    response = api.put(f"/api/v1/triggers/{trigger['id']}", body, format="json")
    assert response.status_code == 200, response.content
    updated = response.json()["body"]
    assert updated["name"] == "hourly" and updated["interval"] == 3600
    assert updated["cron_expression"] is None and updated["max_runs"] is None
    schedule = Trigger.objects.get(pk=trigger["id"]).schedule
    assert PeriodicTask.objects.get(name=scheduling.periodic_task_name(schedule)).interval.every == 3600
    other_type = {"type": "platform_event", **{k: v for k, v in event_body(snapshot).items() if k != "project"}}
    assert api.put(f"/api/v1/triggers/{trigger['id']}", other_type, format="json").status_code == 403


def test_soft_delete_archives_and_hard_delete_removes(api, project, snapshot):
    trigger = create(api, schedule_body(project)).json()
    attach(api, trigger["id"], snapshot)
    schedule = Trigger.objects.get(pk=trigger["id"]).schedule
    assert api.delete(f"/api/v1/triggers/{trigger['id']}").status_code == 200
    row = Trigger.objects.get(pk=trigger["id"])
    assert row.is_archived and not row.active and row.name.startswith("nightly_(")
    assert not row.attachments.exists()
    assert not PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()
    assert api.delete(f"/api/v1/triggers/{trigger['id']}").status_code == 403  # already archived
    assert api.put(f"/api/v1/triggers/{trigger['id']}", schedule_body(project), format="json").status_code == 403
    assert create(api, schedule_body(project)).status_code == 200  # the name is free again
    assert api.delete(f"/api/v1/triggers/{trigger['id']}?soft=false").status_code == 200
    assert (
        not Trigger.objects.filter(pk=trigger["id"]).exists() and not Schedule.objects.filter(pk=schedule.pk).exists()
    )


def test_attach_derives_an_executable_snapshot_and_detach_by_either_id(api, snapshot):
    trigger = create(api, event_body(snapshot)).json()
    response = attach(api, trigger["id"], snapshot, {"parameters": {"epochs": 9}, "run_name": None})
    assert response.status_code == 200, response.content
    assert response.json() is None
    attachment = TriggerSnapshot.objects.get(trigger_id=trigger["id"])
    executable = attachment.snapshot
    assert executable.source_snapshot == snapshot and executable.pipeline_configuration["parameters"] == {"epochs": 9}
    resources = api.get(f"/api/v1/triggers/{trigger['id']}").json()["resources"]
    assert [s["id"] for s in resources["snapshots"]] == [str(snapshot.pk)]
    assert [s["id"] for s in resources["executable_snapshots"]] == [str(executable.pk)]
    assert attach(api, trigger["id"], snapshot).status_code == 403  # attached already
    assert attach(api, trigger["id"], snapshot, allow_replace=True).status_code == 200
    assert TriggerSnapshot.objects.filter(trigger_id=trigger["id"]).count() == 1
    assert attach(api, trigger["id"], snapshot, {"parameters": {"epochs": "x"}}, allow_replace=True).status_code == 422
    path = f"/api/v1/triggers/{trigger['id']}/pipeline_snapshots/{snapshot.pk}"
    assert api.delete(path).status_code == 200 and not TriggerSnapshot.objects.exists()
    assert api.delete(path).status_code == 404


def test_attach_refuses_an_unnamed_snapshot(api, snapshot):
    trigger = create(api, event_body(snapshot)).json()
    snapshot.name = None
    snapshot.save()
    response = attach(api, trigger["id"], snapshot)
    assert response.status_code == 403 and "without name" in response.json()["detail"][1]


def test_schedule_tick_runs_the_attached_snapshots_once_and_skips_while_running(api, project, snapshot, queued):
    trigger = create(api, schedule_body(project)).json()
    attach(api, trigger["id"], snapshot)
    schedule = Trigger.objects.get(pk=trigger["id"]).schedule
    assert scheduling.fire(schedule.pk, tick_id="t1").startswith("dispatched:succeeded")
    assert scheduling.fire(schedule.pk, tick_id="t1") == "duplicate"  # a redelivered tick
    run = PipelineRun.objects.get()
    assert run.snapshot.source_snapshot == snapshot and run.launch["trigger"]["id"] == trigger["id"]
    assert scheduling.fire(schedule.pk, tick_id="t2") == "dispatched:skipped"  # the first run is unfinished
    data = api.get(f"/api/v1/triggers/{trigger['id']}").json()
    assert data["resources"]["latest_run"]["id"] == str(run.pk)
    state = data["resources"]["snapshot_dispatch_states"][str(snapshot.pk)]
    assert state["last_status"] == "SKIPPED_CONCURRENCY"
    PipelineRun.objects.filter(pk=run.pk).update(status=ExecutionStatus.COMPLETED)
    assert scheduling.fire(schedule.pk, tick_id="t3") == "dispatched:succeeded"
    assert PipelineRun.objects.count() == 2


def test_max_runs_turns_a_schedule_trigger_off(api, project, snapshot, queued):
    trigger = create(api, schedule_body(project, max_runs=1, concurrency="submit")).json()
    attach(api, trigger["id"], snapshot)
    schedule = Trigger.objects.get(pk=trigger["id"]).schedule
    scheduling.fire(schedule.pk, tick_id="t1")
    assert not PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()
    assert api.get(f"/api/v1/triggers/{trigger['id']}").json()["body"]["next_occurrence"] is None


def test_platform_event_fires_on_a_completed_run_of_the_pipeline(api, snapshot, queued, monkeypatch):
    trigger = create(api, event_body(snapshot)).json()
    attach(api, trigger["id"], snapshot)
    enqueued = []
    monkeypatch.setattr(triggers, "enqueue", lambda ids, key, event: enqueued.append((list(ids), key, event)))
    run = PipelineRun.objects.create(
        project=snapshot.project, pipeline=snapshot.pipeline, snapshot=snapshot, name="r", status="running"
    )
    run.status = ExecutionStatus.FAILED
    run.save(update_fields=["status"])
    assert enqueued == []  # it watches completed runs only
    run.status = ExecutionStatus.COMPLETED
    run.save(update_fields=["status"])
    ((ids, key, event),) = enqueued
    assert [str(i) for i in ids] == [trigger["id"]]
    record = triggers.dispatch(ids[0], key, event)
    assert record.status == "succeeded" and triggers.dispatch(ids[0], key, event) is None  # once per event
    launched = PipelineRun.objects.get(pk=record.run_id)
    assert launched.snapshot.source_snapshot == snapshot


def test_a_failed_dispatch_is_recorded_and_cleared(api, snapshot, monkeypatch):
    trigger = create(api, event_body(snapshot)).json()
    attach(api, trigger["id"], snapshot)
    Stack.objects.filter(pk=snapshot.stack_id).update(name="gone")
    PipelineSnapshot.objects.filter(source_snapshot=snapshot).update(stack=None)
    record = triggers.dispatch(trigger["id"], "run:x:completed", {"event": "run_completed"})
    assert record.status == "failed"
    state = api.get(f"/api/v1/triggers/{trigger['id']}").json()["resources"]["snapshot_dispatch_states"]
    assert state[str(snapshot.pk)]["last_status"] == "ERROR" and state[str(snapshot.pk)]["last_error_count"] == 1
    path = f"/api/v1/triggers/{trigger['id']}/dispatch_state"
    assert api.delete(f"{path}?snapshot_id={snapshot.pipeline_id}").status_code == 404
    assert api.delete(f"{path}?snapshot_id={snapshot.pk}").status_code == 200
    assert TriggerSnapshot.objects.get().dispatch_state is None


def test_viewer_reads_but_may_not_write_and_other_tenants_are_404(api, snapshot, tenant, other):
    trigger = create(api, event_body(snapshot)).json()
    viewer = bearer_client(make_user("trgviewer", tenant, role="tenant-viewer"), tenant)
    assert viewer.get(f"/api/v1/triggers/{trigger['id']}").status_code == 200
    assert create(viewer, schedule_body(snapshot.project, name="mine")).status_code == 403
    assert attach(viewer, trigger["id"], snapshot).status_code == 403
    assert viewer.delete(f"/api/v1/triggers/{trigger['id']}").status_code == 403
    foreign_pipeline = Pipeline.objects.create(project=Project.objects.get(tenant=other, name="default"), name="p")
    foreign = PipelineSnapshot.objects.create(
        project=foreign_pipeline.project, pipeline=foreign_pipeline, name="theirs", run_name_template="x"
    )
    before = PipelineSnapshot.objects.count()
    assert attach(api, trigger["id"], foreign).status_code == 404
    assert PipelineSnapshot.objects.count() == before and not TriggerSnapshot.objects.exists()
    theirs = Trigger.objects.create(project=foreign.project, name="theirs", event="schedule", action="run_snapshot")
    assert api.get(f"/api/v1/triggers/{theirs.pk}").status_code == 404
    assert "theirs" not in api.get("/api/v1/triggers").content.decode()


def test_next_occurrence_of_an_interval_counts_from_the_start():
    start = datetime(2030, 1, 1, tzinfo=UTC)
    schedule = Schedule(active=True, start_time=start, interval_second=timedelta(hours=1))
    assert scheduling.next_occurrence(schedule, now=start + timedelta(minutes=90)) == start + timedelta(hours=2)
    assert scheduling.next_occurrence(schedule, now=start - timedelta(days=1)) == start
