"""Snapshot pages and the Run form generated from a snapshot's parameters: typed fields with
defaults, the launcher's refusals as form errors, exactly one queued run on success, "Run with
changes" from a run page, RBAC (403 and no button for a viewer), bounded queries."""

import json
import re

import pytest
from django import forms

from mlmeta import launching, tasks
from mlmeta.choices import ExecutionStatus
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Stack
from tenants.models import AuditEvent
from tests.conftest import make_user

PARAMETERS = {"epochs": 3, "lr": 0.1, "shuffle": True, "optimizer": "adam", "note": None, "layers": [64, 32]}
SCHEMA = {
    "type": "object",
    "properties": {
        "parameters": {
            "type": "object",
            "properties": {
                "epochs": {"type": "integer", "description": "Passes over the data"},
                "lr": {"type": "number"},
                "shuffle": {"type": "boolean"},
                "optimizer": {"type": "string", "enum": ["adam", "sgd"]},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "layers": {"type": "array", "items": {"type": "integer"}},
            },
        }
    },
}


@pytest.fixture
def snapshot(tenant, project):
    pipeline = Pipeline.objects.create(project=project, name="training")
    return PipelineSnapshot.objects.create(
        project=project,
        pipeline=pipeline,
        stack=Stack.objects.get(tenant=tenant, name="default"),
        run_name_template="training-{date}-{time}",
        pipeline_configuration={"name": "training", "parameters": dict(PARAMETERS)},
        step_configurations={
            "load": {"config": {"name": "load", "parameters": {}}},
            "train": {"config": {"name": "train", "parameters": {"epochs": 3, "lr": 0.1}}},
        },
        config_schema=SCHEMA,
    )


@pytest.fixture
def admin(tenant):
    return make_user("runadmin", tenant, is_admin=True)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def viewer_client(client, tenant):
    client.force_login(make_user("viewer", tenant, role="tenant-viewer"))
    return client


@pytest.fixture
def queued(monkeypatch):
    """Task ids sent to the broker (the task itself is not run)."""
    sent = []
    monkeypatch.setattr(tasks.run_snapshot, "delay", lambda run_id: sent.append(run_id))
    return sent


def form_data(**changes) -> dict:
    """What the browser posts for the prefilled form, with `changes`."""
    data = {
        "param_epochs": "3",
        "param_lr": "0.1",
        "param_shuffle": "on",
        "param_optimizer": '"adam"',
        "param_note": "",
        "param_layers": "[64, 32]",
        "run_name": "",
        "enable_cache": "",
        "extra": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_run_form_has_a_typed_field_per_parameter_with_its_default(admin_client, snapshot):
    response = admin_client.get(f"/snapshots/{snapshot.pk}/run")
    assert response.status_code == 200
    form = response.context["form"]
    kinds = {name: type(form.fields[f"param_{name}"]) for name in PARAMETERS}
    assert kinds == {
        "epochs": forms.IntegerField,
        "lr": forms.FloatField,
        "shuffle": forms.BooleanField,
        "optimizer": forms.TypedChoiceField,
        "note": forms.CharField,
        "layers": forms.JSONField,
    }
    html = response.content.decode()
    assert 'type="number" name="param_epochs" value="3"' in html and "Passes over the data" in html
    assert 'name="param_lr" value="0.1" step="any"' in html
    assert 'type="checkbox" name="param_shuffle"' in html and "checked" in html.split('name="param_shuffle"')[1][:80]
    assert '<option value="&quot;adam&quot;" selected>adam</option>' in html
    assert "[64, 32]</textarea>" in html
    assert 'name="run_name"' in html and 'name="extra"' in html
    assert re.search(r'name="extra"[^>]*>\s*</textarea>', html), "the overrides box starts empty, not 'null'"


def test_run_form_launches_exactly_one_queued_run_with_the_changed_parameters(
    admin_client, snapshot, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/snapshots/{snapshot.pk}/run",
            form_data(param_epochs="5", param_shuffle=None, param_layers="[8]", run_name="manual-{date}"),
        )
    run = PipelineRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert queued == [str(run.pk)]
    assert run.status == ExecutionStatus.INITIALIZING
    # Only what changed is sent to the launcher; the rest keeps the snapshot's values.
    assert run.launch["overrides"] == {
        "run_name": "manual-{date}",
        "parameters": {"epochs": 5, "shuffle": False, "layers": [8]},
    }
    assert run.launch["trigger"] == {"type": "dashboard"} and run.name.startswith("manual-")
    assert run.snapshot.pipeline_configuration["parameters"] == {
        **PARAMETERS,
        "epochs": 5,
        "shuffle": False,
        "layers": [8],
    }
    assert AuditEvent.objects.filter(action="run_snapshot", resource_id=str(run.pk)).count() == 1
    page = admin_client.get(response["Location"]).content.decode()
    assert f'hx-get="/runs/statuses?ids={run.pk}"' in page  # the new run's status is polled live


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"param_epochs": "many"}, "param_epochs", "Enter a whole number."),
        ({"param_layers": '{"a": 1}'}, "param_layers", "is not of type 'array'"),
        ({"param_optimizer": '"rmsprop"'}, "param_optimizer", "Select a valid choice."),
        ({"extra": '{"parameters": {"nope": 1}}'}, "extra", "Unknown parameter 'nope'"),
        ({"extra": '{"steps": {"train": {"parameters": {"lr": "fast"}}}}'}, "extra", "Input should be a valid number"),
        ({"extra": '{"build": "x"}'}, "extra", "'build' cannot be changed"),
        ({"extra": "[1, 2]"}, "extra", "Give a JSON object"),
        ({"extra": "{not json"}, "extra", "Enter a valid JSON."),
    ],
)
def test_bad_input_is_a_form_error_on_its_field_and_nothing_is_queued(
    admin_client, snapshot, queued, changes, field, message
):
    before = PipelineSnapshot.objects.count()
    response = admin_client.post(f"/snapshots/{snapshot.pk}/run", form_data(**changes))
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert PipelineRun.objects.count() == 0 and PipelineSnapshot.objects.count() == before and queued == []


def test_a_snapshot_no_runner_can_run_says_why_on_its_page_and_form(admin_client, snapshot, queued):
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(stack=None)
    page = admin_client.get(f"/snapshots/{snapshot.pk}/").content.decode()
    assert "This snapshot has no stack" in page and f'href="/snapshots/{snapshot.pk}/run"' not in page
    response = admin_client.post(f"/snapshots/{snapshot.pk}/run", form_data())
    assert response.status_code == 422
    assert "no stack" in " ".join(response.context["form"].non_field_errors())
    assert PipelineRun.objects.count() == 0 and queued == []


def test_snapshot_page_shows_pipeline_stack_steps_configuration_and_runs(admin_client, admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin, overrides={"parameters": {"epochs": 9}})
    response = admin_client.get(f"/snapshots/{snapshot.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("training", "default", "load", "train", "by the local runner", run.name, "&quot;epochs&quot;: 3"):
        assert text in html, text
    assert f'href="/snapshots/{snapshot.pk}/run">Run</a>' in html
    assert f'href="/runs/{run.pk}/"' in html  # a run of a snapshot derived from this one
    run_page = admin_client.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="/runs/{run.pk}/run-with-changes"' in run_page
    assert f'href="/snapshots/{run.snapshot_id}/"' in run_page


def test_run_with_changes_is_prefilled_from_the_run_and_replays_it(
    admin_client, admin, snapshot, queued, django_capture_on_commit_callbacks
):
    first = launching.launch_snapshot(snapshot, user=admin, overrides={"parameters": {"epochs": 7, "lr": 0.5}})
    response = admin_client.get(f"/runs/{first.pk}/run-with-changes")
    assert response.status_code == 200
    form = response.context["form"]
    assert form["param_epochs"].initial == 7 and form["param_lr"].initial == 0.5
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/runs/{first.pk}/run-with-changes", form_data(param_epochs="7", param_lr="0.25", enable_cache="false")
        )
    second = PipelineRun.objects.exclude(pk=first.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{second.pk}/"
    assert second.original_run_id == first.pk and second.launch["trigger"]["type"] == "replay"
    assert second.launch["overrides"] == {"enable_cache": False, "parameters": {"lr": 0.25}}
    assert second.snapshot.pipeline_configuration["parameters"]["epochs"] == 7
    assert second.snapshot.pipeline_configuration["enable_cache"] is False
    assert queued[-1] == str(second.pk)


def test_a_viewer_sees_the_snapshot_but_no_run_button_and_gets_403(viewer_client, admin, snapshot, queued):
    run = launching.launch_snapshot(snapshot, user=admin)
    page = viewer_client.get(f"/snapshots/{snapshot.pk}/")
    assert page.status_code == 200 and f"/snapshots/{snapshot.pk}/run" not in page.content.decode()
    assert "run-with-changes" not in viewer_client.get(f"/runs/{run.pk}/").content.decode()
    assert viewer_client.get(f"/snapshots/{snapshot.pk}/run").status_code == 403
    assert viewer_client.post(f"/snapshots/{snapshot.pk}/run", form_data(param_epochs="4")).status_code == 403
    assert viewer_client.get(f"/runs/{run.pk}/run-with-changes").status_code == 403
    assert viewer_client.post(f"/runs/{run.pk}/run-with-changes", form_data()).status_code == 403
    assert PipelineRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="permission_denied", resource_id=str(snapshot.pk)).count() == 2


def test_snapshots_of_other_tenants_are_404(client, other, snapshot, queued):
    client.force_login(make_user("outsider", other, is_admin=True))
    for url in (f"/t/other/snapshots/{snapshot.pk}/", f"/t/other/snapshots/{snapshot.pk}/run"):
        assert client.get(url).status_code == 404
    assert client.post(f"/t/other/snapshots/{snapshot.pk}/run", form_data()).status_code == 404
    assert PipelineRun.objects.count() == 0


def test_parameters_without_a_schema_take_the_recorded_values_type(admin_client, snapshot):
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(
        config_schema=None, pipeline_configuration={"parameters": {"n": 2, "name": "x", "opts": {"a": 1}}}
    )
    form = admin_client.get(f"/snapshots/{snapshot.pk}/run").context["form"]
    assert [type(form.fields[f"param_{n}"]) for n in ("n", "name", "opts")] == [
        forms.IntegerField,
        forms.CharField,
        forms.JSONField,
    ]


def test_snapshot_pages_queries_are_bounded(admin_client, admin, snapshot, queued, django_assert_max_num_queries):
    for n in range(15):
        launching.launch_snapshot(snapshot, user=admin, overrides={"parameters": {"epochs": n}})
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(
        step_configurations={f"step_{i}": {"config": {"parameters": {"i": i}}} for i in range(20)}
    )
    with django_assert_max_num_queries(12):
        assert admin_client.get(f"/snapshots/{snapshot.pk}/").status_code == 200
    with django_assert_max_num_queries(10):
        assert admin_client.get(f"/snapshots/{snapshot.pk}/run").status_code == 200
    run = PipelineRun.objects.first()
    with django_assert_max_num_queries(12):
        assert admin_client.get(f"/runs/{run.pk}/run-with-changes").status_code == 200


def test_the_form_escapes_parameter_names_and_values(admin_client, snapshot):
    xss = "<script>alert(1)</script>"
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(
        config_schema=None, pipeline_configuration={"parameters": {"text": xss}}
    )
    html = admin_client.get(f"/snapshots/{snapshot.pk}/run").content.decode()
    assert xss not in html and json.dumps(xss) not in html
