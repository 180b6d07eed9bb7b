"""Automation pages' object actions: delete a schedule or trigger (confirm page, POST, audited),
pause/resume, rotate a trigger's inbound-webhook secret (the old one is refused at once), the
trigger page's dispatch history; RBAC and bounded queries."""

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from mlmeta import scheduling, triggers
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Schedule, Stack
from mlmeta.models.automation import Trigger, TriggerDispatch
from tenants import crypto
from tenants.models import AuditEvent, Project
from tests.conftest import make_user

BODY = b'{"reason": "deploy"}'


@pytest.fixture
def snapshot(tenant_a, alice):
    project = Project.objects.get(tenant=tenant_a, name="default")
    stack = Stack.objects.create(tenant=tenant_a, name="s")
    pipeline = Pipeline.objects.create(project=project, user=alice, name="train")
    return PipelineSnapshot.objects.create(
        project=project, user=alice, pipeline=pipeline, stack=stack, run_name_template="r-{date}"
    )


@pytest.fixture
def schedule(snapshot, alice):
    schedule = Schedule.objects.create(
        project=snapshot.project,
        user=alice,
        name="nightly",
        snapshot=snapshot,
        pipeline=snapshot.pipeline,
        cron_expression="0 3 * * *",
        active=True,
    )
    scheduling.sync(schedule)
    return schedule


@pytest.fixture
def hook(snapshot, alice):
    """An inbound-webhook trigger and its secret."""
    trigger = Trigger(
        project=snapshot.project, user=alice, name="on-hook", event="webhook", action="run_snapshot", snapshot=snapshot
    )
    secret = triggers.new_secret(trigger)
    trigger.save()
    return trigger, secret


@pytest.fixture
def viewer_client(tenant_a):
    client = Client()
    client.force_login(make_user("vera", tenant_a, role="tenant-viewer"))
    return client


def post_hook(trigger, secret: str, body: bytes = BODY):
    signature = triggers.sign(secret.encode(), body)
    return Client().post(
        f"/hooks/{trigger.pk}", data=body, content_type="application/json", headers={"X-MLMeta-Signature": signature}
    )


def has_task(schedule) -> bool:
    return PeriodicTask.objects.filter(name=scheduling.periodic_task_name(schedule)).exists()


def test_delete_a_schedule_after_a_confirm_page_removes_its_task_and_is_audited(alice_client, schedule):
    assert f'href="/schedules/{schedule.pk}/delete"' in alice_client.get("/schedules/").content.decode()
    page = alice_client.get(f"/schedules/{schedule.pk}/delete")
    assert page.status_code == 200 and "Delete schedule nightly?" in page.content.decode()
    assert Schedule.objects.filter(pk=schedule.pk).exists() and has_task(schedule)  # GET changes nothing
    response = alice_client.post(f"/schedules/{schedule.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/schedules/"
    assert not Schedule.objects.filter(pk=schedule.pk).exists() and not has_task(schedule)
    event = AuditEvent.objects.get(action="delete", resource_id=str(schedule.pk))
    assert event.resource_type == "schedule" and event.actor.username == "alice"
    listed = alice_client.get("/schedules/").content.decode()
    assert "Deleted schedule nightly." in listed and "No schedules" in listed


def test_delete_a_trigger_after_a_confirm_page_is_audited_and_its_hook_is_gone(alice_client, hook):
    trigger, secret = hook
    assert "Delete trigger on-hook?" in alice_client.get(f"/triggers/{trigger.pk}/delete").content.decode()
    assert alice_client.post(f"/triggers/{trigger.pk}/delete").status_code == 302
    assert not Trigger.objects.filter(pk=trigger.pk).exists()
    assert AuditEvent.objects.get(action="delete", resource_id=str(trigger.pk)).resource_type == "trigger"
    assert post_hook(trigger, secret).status_code == 404


def test_pause_and_resume_a_schedule_follow_its_periodic_task(alice_client, schedule):
    assert alice_client.post(f"/schedules/{schedule.pk}/pause").status_code == 302
    schedule.refresh_from_db()
    assert not schedule.active and not has_task(schedule)
    assert alice_client.post(f"/schedules/{schedule.pk}/resume").status_code == 302
    schedule.refresh_from_db()
    assert schedule.active and has_task(schedule)
    changes = list(
        AuditEvent.objects.filter(action="update", resource_id=str(schedule.pk))
        .order_by("created")
        .values_list("changes", flat=True)
    )
    assert changes == [{"active": [True, False]}, {"active": [False, True]}]
    assert alice_client.get(f"/schedules/{schedule.pk}/pause").status_code == 405  # POST only


def test_a_paused_trigger_refuses_its_webhook_until_resumed(alice_client, hook):
    trigger, secret = hook
    alice_client.post(f"/triggers/{trigger.pk}/pause")
    assert post_hook(trigger, secret).status_code == 404
    alice_client.post(f"/triggers/{trigger.pk}/resume")
    assert post_hook(trigger, secret).status_code == 202


def test_rotating_a_trigger_secret_shows_the_new_one_once_and_refuses_the_old(alice_client, hook):
    trigger, old = hook
    assert post_hook(trigger, old).status_code == 202
    confirm = alice_client.get(f"/triggers/{trigger.pk}/rotate-secret")
    assert confirm.status_code == 200 and "stops working immediately" in confirm.content.decode()
    trigger.refresh_from_db()
    assert crypto.open_(trigger.secret_sealed) == old  # GET changes nothing
    response = alice_client.post(f"/triggers/{trigger.pk}/rotate-secret")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    trigger.refresh_from_db()
    new = crypto.open_(trigger.secret_sealed)
    assert new != old and new in response.content.decode()
    assert new not in alice_client.get(f"/triggers/{trigger.pk}/").content.decode()
    refused = post_hook(trigger, old, b'{"reason": "again"}')
    assert refused.status_code == 401
    assert post_hook(trigger, new, b'{"reason": "again"}').status_code == 202
    event = AuditEvent.objects.get(action="update", resource_id=str(trigger.pk))
    assert event.changes == {"secret": "***"}
    assert not AuditEvent.objects.filter(changes__icontains=new).exists()


def test_a_viewer_may_not_delete_pause_or_rotate(viewer_client, schedule, hook):
    trigger, secret = hook
    for url in (
        f"/schedules/{schedule.pk}/delete",
        f"/schedules/{schedule.pk}/pause",
        f"/triggers/{trigger.pk}/delete",
        f"/triggers/{trigger.pk}/pause",
        f"/triggers/{trigger.pk}/rotate-secret",
    ):
        assert viewer_client.post(url).status_code == 403, url
    assert viewer_client.get(f"/schedules/{schedule.pk}/delete").status_code == 403
    schedule.refresh_from_db()
    trigger.refresh_from_db()
    assert schedule.active and trigger.active and crypto.open_(trigger.secret_sealed) == secret
    assert AuditEvent.objects.filter(action="permission_denied", resource_id=str(trigger.pk)).count() == 3
    lists = viewer_client.get("/schedules/").content.decode() + viewer_client.get("/triggers/").content.decode()
    assert "nightly" in lists and "/delete" not in lists and "/pause" not in lists


def test_other_tenants_get_404_for_the_actions(charlie_client, schedule, hook):
    trigger, _ = hook
    assert charlie_client.post(f"/t/beta/schedules/{schedule.pk}/delete").status_code == 404
    assert charlie_client.post(f"/t/beta/triggers/{trigger.pk}/rotate-secret").status_code == 404
    assert Schedule.objects.filter(pk=schedule.pk).exists()


def test_trigger_page_shows_its_dispatch_history(alice_client, hook, snapshot, alice):
    trigger, _ = hook
    run = PipelineRun.objects.create(
        project=snapshot.project, user=alice, name="hooked-run", pipeline=snapshot.pipeline
    )
    TriggerDispatch.objects.create(
        trigger=trigger, event_key="a", event={"event": "webhook"}, status="succeeded", run_id=run.pk
    )
    TriggerDispatch.objects.create(
        trigger=trigger,
        event_key="b",
        event={"event": "webhook"},
        status="failed",
        response_code=502,
        error="<b>bad</b> gateway",
    )
    html = alice_client.get(f"/triggers/{trigger.pk}/").content.decode()
    assert "Dispatch history" in html and f'href="/runs/{run.pk}/"' in html
    assert "HTTP 502" in html and "&lt;b&gt;bad&lt;/b&gt; gateway" in html and "succeeded" in html


def test_automation_pages_queries_are_bounded(alice_client, hook, snapshot, alice, django_assert_max_num_queries):
    trigger, _ = hook
    for n in range(30):
        Schedule.objects.create(
            project=snapshot.project, user=alice, name=f"s{n}", snapshot=snapshot, interval_second=None
        )
        TriggerDispatch.objects.create(trigger=trigger, event_key=f"k{n}", event={"event": "webhook"}, status="failed")
    for n in range(10):
        Trigger.objects.create(
            project=snapshot.project, user=alice, name=f"t{n}", event="webhook", action="run_snapshot"
        )
    for url in ("/schedules/", "/triggers/", f"/triggers/{trigger.pk}/"):
        with django_assert_max_num_queries(11):
            assert alice_client.get(url).status_code == 200
