"""Dashboard pages for runs and steps: rendering, filters, sorting, bounded queries, actions and
their permissions, tenant isolation, escaping of user content."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from mlmeta.choices import ExecutionStatus, MetadataResourceType, TaggableResourceType
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Logs,
    Pipeline,
    PipelineRun,
    RunMetadata,
    StackComponent,
    StepRun,
    StepRunInput,
    StepRunOutput,
    Tag,
    TagResource,
)
from tenants.models import AuditEvent, Project
from tests.conftest import make_user

XSS = "<script>alert(1)</script>"


@pytest.fixture
def store_root(tmp_path, settings):
    settings.MLMETA_LOCAL_ARTIFACT_ROOTS = [str(tmp_path)]
    return tmp_path


@pytest.fixture
def world(tenant_a, alice, store_root):
    """A project with a pipeline and a local artifact store whose files the server may read."""
    project = Project.objects.create(tenant=tenant_a, name="alpha-project", user=alice)
    pipeline = Pipeline.objects.create(name="training", project=project, user=alice)
    store = StackComponent.objects.create(
        tenant=tenant_a,
        user=alice,
        name="local-store",
        type="artifact_store",
        flavor_name="local",
        configuration={"path": str(store_root / "store")},
    )
    (store_root / "store").mkdir()
    return {"project": project, "pipeline": pipeline, "store": store, "user": alice, "root": store_root / "store"}


def make_run(world, name, steps=0, status=ExecutionStatus.COMPLETED, minutes=5, pipeline=None, **extra):
    now = timezone.now()
    run = PipelineRun.objects.create(
        name=name,
        pipeline=pipeline or world["pipeline"],
        project=world["project"],
        user=world["user"],
        status=status,
        start_time=now - timedelta(minutes=minutes),
        end_time=now,
        **extra,
    )
    previous = None
    for i in range(steps):
        step = StepRun.objects.create(
            pipeline_run=run,
            name=f"step_{i}",
            status=ExecutionStatus.COMPLETED,
            start_time=now - timedelta(minutes=minutes - i * 0.1),
            end_time=now,
            project=world["project"],
            user=world["user"],
            source_code=f"def step_{i}():\n    return {i}",
            cache_key=f"key-{i}",
        )
        artifact = Artifact.objects.create(name=f"{name}-out-{i}", project=world["project"], user=world["user"])
        version = ArtifactVersion.objects.create(
            artifact=artifact, uri="/x", project=world["project"], user=world["user"]
        )
        StepRunOutput.objects.create(step_run=step, artifact_version=version, name="output")
        if previous is not None:
            StepRunInput.objects.create(step_run=step, artifact_version=previous, name="data")
        previous = version
    return run


def add_logs(world, step, lines):
    path = world["root"] / f"{step.pk}.log"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return Logs.objects.create(
        source="step",
        uri=str(path),
        artifact_store=world["store"],
        pipeline_run=step.pipeline_run,
        step_run=step,
        project=world["project"],
        user=world["user"],
    )


# --- runs list -------------------------------------------------------------------------------


def test_empty_runs_list_tells_how_to_start(alice_client, world):
    body = alice_client.get("/runs/").content.decode()
    assert "zenml login http://testserver" in body
    assert "manage.py seed_demo --tenant alpha" in body


def test_runs_list_filters_by_status_pipeline_tag_and_metadata(alice_client, world):
    other = Pipeline.objects.create(name="serving", project=world["project"], user=world["user"])
    done = make_run(world, "run-done")
    failed = make_run(world, "run-failed", status=ExecutionStatus.FAILED)
    serving = make_run(world, "run-serving", pipeline=other)
    tag = Tag.objects.create(tenant=world["project"].tenant, name="nightly", user=world["user"])
    TagResource.objects.create(tag=tag, resource_type=TaggableResourceType.PIPELINE_RUN, resource_id=failed.pk)
    RunMetadata.objects.create(
        resource_type=MetadataResourceType.PIPELINE_RUN,
        resource_id=done.pk,
        key="accuracy",
        value=0.9,
        type="float",
        project=world["project"],
        user=world["user"],
    )

    def names(query):
        response = alice_client.get("/runs/?" + query)
        assert response.status_code == 200
        return {r.name for r in response.context["runs"]}

    assert names("") == {"run-done", "run-failed", "run-serving"}
    assert names("status=failed") == {"run-failed"}
    assert names(f"pipeline={other.pk}") == {serving.name}
    assert names("tag=nightly") == {"run-failed"}
    assert names("metadata_key=accuracy&metadata_value=0.9") == {"run-done"}
    assert names("metadata_key=accuracy&metadata_value=0.8") == set()
    assert names("user=alice") == {"run-done", "run-failed", "run-serving"}
    assert names("user=nobody") == set()
    today = timezone.now().date()
    assert len(names(f"created_after={today}&created_before={today}")) == 3
    assert names(f"created_before={today - timedelta(days=1)}") == set()


def test_bad_filter_input_is_a_form_error_not_a_crash(alice_client, world):
    make_run(world, "run-1")
    response = alice_client.get("/runs/?pipeline=not-a-uuid&created_after=yesterday&metadata_value=0.9&sort=evil")
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"pipeline", "created_after", "metadata_key", "sort"}


def test_runs_list_sorts_by_name_and_duration(alice_client, world):
    make_run(world, "b-run", minutes=1)
    make_run(world, "a-run", minutes=9)
    make_run(world, "c-run", minutes=5)
    by_name = [r.name for r in alice_client.get("/runs/?sort=name").context["runs"]]
    assert by_name == ["a-run", "b-run", "c-run"]
    longest = [r.name for r in alice_client.get("/runs/?sort=-duration").context["runs"]]
    assert longest == ["a-run", "c-run", "b-run"]


def test_runs_list_queries_are_bounded_with_fifty_runs(alice_client, world, django_assert_max_num_queries):
    for i in range(50):
        make_run(world, f"run-{i}", status=ExecutionStatus.RUNNING)
    with django_assert_max_num_queries(20):
        response = alice_client.get("/runs/")
    assert response.status_code == 200
    assert len(response.context["runs"]) == 25
    assert 'hx-trigger="every 5s"' in response.content.decode()


def test_status_fragment_returns_out_of_band_badges(alice_client, world):
    run = make_run(world, "live", status=ExecutionStatus.RUNNING)
    run.update_status(ExecutionStatus.COMPLETED)
    body = alice_client.get(f"/runs/statuses?ids={run.pk},garbage").content.decode()
    assert f'id="status-{run.pk}"' in body
    assert 'hx-swap-oob="true"' in body
    assert "completed" in body
    assert "hx-get" not in body  # nothing runs any more: the replaced poller stops polling
    still = make_run(world, "still", status=ExecutionStatus.RUNNING)
    body = alice_client.get(f"/runs/statuses?ids={run.pk},{still.pk}").content.decode()
    assert f'hx-get="/runs/statuses?ids={still.pk}"' in body


def test_bulk_delete_counts_deleted_and_refused(client, tenant_a, world):
    viewer = make_user("vera", tenant_a, role="tenant-viewer")
    run = make_run(world, "keep-me")
    client.force_login(viewer)
    response = client.post("/runs/delete", {"run": [str(run.pk)]}, follow=True)
    assert PipelineRun.objects.filter(pk=run.pk).exists()
    assert "Refused 1 run" in response.content.decode()


def test_bulk_delete_by_admin(alice_client, world):
    runs = [make_run(world, f"gone-{i}") for i in range(3)]
    response = alice_client.post("/runs/delete", {"run": [str(r.pk) for r in runs[:2]]}, follow=True)
    assert "Deleted 2 runs" in response.content.decode()
    assert list(PipelineRun.objects.values_list("name", flat=True)) == ["gone-2"]


def test_bulk_delete_needs_csrf(tenant_a, alice, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    run = make_run(world, "csrf-run")
    assert client.post("/runs/delete", {"run": [str(run.pk)]}).status_code == 403
    assert PipelineRun.objects.filter(pk=run.pk).exists()


# --- run page --------------------------------------------------------------------------------


def test_run_page_shows_dag_timeline_configuration_and_metadata(alice_client, world):
    run = make_run(world, "dag-run", steps=3)
    body = alice_client.get(f"/runs/{run.pk}/").content.decode()
    dag = alice_client.get(f"/runs/{run.pk}/").context["dag"]
    assert {n["label"] for n in dag["nodes"] if n["kind"] == "step"} == {"step_0", "step_1", "step_2"}
    assert len([n for n in dag["nodes"] if n["kind"] == "artifact"]) == 3
    assert len(dag["edges"]) == 5  # three outputs, two inputs
    assert 'id="dag-data"' in body
    assert "dagre-3.1.3.min.js" in body
    assert "timeline-bars" in body
    assert f'action="/runs/{run.pk}/stop"' not in body  # finished: nothing to stop
    assert f'action="/runs/{run.pk}/delete"' in body


def test_run_page_queries_are_bounded_with_ten_steps(alice_client, world, django_assert_max_num_queries):
    run = make_run(world, "big-run", steps=10)
    with django_assert_max_num_queries(25):
        response = alice_client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200


def test_admin_stops_and_deletes_a_run(alice_client, world):
    run = make_run(world, "running", steps=1, status=ExecutionStatus.RUNNING)
    StepRun.objects.filter(pipeline_run=run).update(status=ExecutionStatus.RUNNING)
    assert alice_client.post(f"/runs/{run.pk}/stop").status_code == 302
    run.refresh_from_db()
    assert run.status == ExecutionStatus.STOPPED
    assert alice_client.post(f"/runs/{run.pk}/delete").status_code == 302
    assert not PipelineRun.objects.filter(pk=run.pk).exists()
    assert set(AuditEvent.objects.filter(resource_id=str(run.pk)).values_list("action", flat=True)) == {
        "update",
        "delete",
    }


def test_viewer_cannot_stop_or_delete(client, tenant_a, world):
    viewer = make_user("vera", tenant_a, role="tenant-viewer")
    run = make_run(world, "running", status=ExecutionStatus.RUNNING)
    client.force_login(viewer)
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert "/stop" not in page and f"/runs/{run.pk}/delete" not in page
    assert client.post(f"/runs/{run.pk}/stop").status_code == 403
    assert client.post(f"/runs/{run.pk}/delete").status_code == 403
    run.refresh_from_db()
    assert run.status == ExecutionStatus.RUNNING
    refusals = AuditEvent.objects.filter(action="permission_denied", resource_id=str(run.pk))
    assert refusals.count() == 2


def test_other_tenant_cannot_see_a_run(client, charlie, tenant_b, world):
    run = make_run(world, "secret-run", steps=1)
    step = run.steps.get()
    client.force_login(charlie)
    # Under A's address charlie is no member: 403; under his own tenant the id does not exist: 404.
    assert client.get(f"/runs/{run.pk}/").status_code == 403
    assert client.get(f"/t/beta/runs/{run.pk}/").status_code == 404
    assert client.get(f"/t/beta/steps/{step.pk}/").status_code == 404
    assert client.post(f"/t/beta/runs/{run.pk}/delete").status_code == 404
    assert "secret-run" not in client.get(f"/t/beta/search?q={run.pk}").content.decode()
    assert PipelineRun.objects.filter(pk=run.pk).exists()


def test_missing_run_is_a_404_page(alice_client, world):
    assert alice_client.get("/runs/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- step page -------------------------------------------------------------------------------


def test_step_page_logs_search_level_and_download(alice_client, world):
    run = make_run(world, "log-run", steps=1)
    step = run.steps.get()
    add_logs(
        world,
        step,
        [
            {"message": "loading data", "level": "INFO"},
            {"message": "disk almost full", "level": "WARNING"},
            {"message": "training done", "level": "INFO"},
        ],
    )
    body = alice_client.get(f"/steps/{step.pk}/").content.decode()
    assert "loading data" in body and "disk almost full" in body
    assert "def step_0():" in body
    version = step.output_links.get().artifact_version
    assert f'href="/artifact-versions/{version.pk}/"' in body
    warnings = alice_client.get(f"/steps/{step.pk}/?level=warning").content.decode()
    assert "disk almost full" in warnings and "loading data" not in warnings
    found = alice_client.get(f"/steps/{step.pk}/?q=TRAINING").content.decode()
    assert "training done" in found and "loading data" not in found
    download = alice_client.get(f"/steps/{step.pk}/?download=1")
    assert download["Content-Disposition"].startswith("attachment")
    lines = download.content.decode().splitlines()
    assert lines == ["INFO loading data", "WARNING disk almost full", "INFO training done"]


def test_unreadable_log_store_is_a_message_not_a_crash(alice_client, world):
    run = make_run(world, "outside", steps=1)
    step = run.steps.get()
    Logs.objects.create(
        source="step", uri="/etc/passwd", artifact_store=world["store"], step_run=step,
        project=world["project"], user=world["user"],
    )  # fmt: skip
    response = alice_client.get(f"/steps/{step.pk}/")
    assert response.status_code == 200
    assert "root:" not in response.content.decode()
    assert "cannot be read" in response.content.decode()


def test_expire_cache(alice_client, world):
    run = make_run(world, "cached", steps=1)
    step = run.steps.get()
    assert "Expire cache" in alice_client.get(f"/steps/{step.pk}/").content.decode()
    assert alice_client.post(f"/steps/{step.pk}/expire-cache").status_code == 302
    step.refresh_from_db()
    assert step.cache_expired
    assert "Expire cache" not in alice_client.get(f"/steps/{step.pk}/").content.decode()


def test_viewer_cannot_expire_cache(client, tenant_a, world):
    viewer = make_user("vera", tenant_a, role="tenant-viewer")
    step = make_run(world, "cached", steps=1).steps.get()
    client.force_login(viewer)
    assert client.post(f"/steps/{step.pk}/expire-cache").status_code == 403
    step.refresh_from_db()
    assert step.cache_expires_at is None


# --- escaping and search ---------------------------------------------------------------------


def test_names_and_log_lines_are_escaped(alice_client, world):
    run = make_run(world, f"run-{XSS}", steps=0)
    step = StepRun.objects.create(
        pipeline_run=run, name=f"step-{XSS}", project=world["project"], user=world["user"], source_code=XSS
    )
    add_logs(world, step, [{"message": XSS, "level": "INFO"}])
    for url in ("/runs/", f"/runs/{run.pk}/", f"/steps/{step.pk}/", "/search?q=run-"):
        body = alice_client.get(url).content.decode()
        assert XSS not in body, url
        assert "&lt;script&gt;" in body, url
    # The DAG's JSON is embedded with json_script: no raw "<" inside the script element.
    body = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert "\\u003Cscript\\u003E" in body


def test_search_finds_runs_and_pipelines_by_name_and_id(alice_client, world):
    run = make_run(world, "findable-run")
    body = alice_client.get("/search?q=findable").content.decode()
    assert f'href="/runs/{run.pk}/"' in body
    by_id = alice_client.get(f"/search?q={run.pk}").content.decode()
    assert "findable-run" in by_id
    assert "training" in alice_client.get("/search?q=train").content.decode()


def test_project_switcher_narrows_the_list_and_is_remembered(alice_client, world, tenant_a, alice):
    other = Project.objects.create(tenant=tenant_a, name="other-project", user=alice)
    pipeline = Pipeline.objects.create(name="p2", project=other, user=alice)
    make_run(world, "in-alpha")
    PipelineRun.objects.create(name="in-other", pipeline=pipeline, project=other, user=alice)
    names = {r.name for r in alice_client.get(f"/runs/?project={other.pk}").context["runs"]}
    assert names == {"in-other"}
    assert {r.name for r in alice_client.get("/runs/").context["runs"]} == {"in-other"}
    assert {r.name for r in alice_client.get("/runs/?project=").context["runs"]} == {"in-alpha", "in-other"}


def test_run_page_shows_the_runs_own_logs_not_its_steps(alice_client, world):
    run = make_run(world, "logged", steps=1)
    step = run.steps.get()
    add_logs(world, step, [{"message": "a step line", "level": "INFO"}])
    path = world["root"] / "run.log"
    path.write_text(json.dumps({"message": "orchestrator line", "level": "INFO"}) + "\n")
    Logs.objects.create(
        source="orchestrator", uri=str(path), artifact_store=world["store"], pipeline_run=run,
        project=world["project"], user=world["user"],
    )  # fmt: skip
    body = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert "orchestrator line" in body
    assert "a step line" not in body


def test_step_page_and_search_queries_are_bounded(alice_client, world, django_assert_max_num_queries):
    run = make_run(world, "many", steps=10)
    step = run.steps.order_by("name").last()
    with django_assert_max_num_queries(15):
        assert alice_client.get(f"/steps/{step.pk}/").status_code == 200
    with django_assert_max_num_queries(15):
        assert alice_client.get("/search?q=many").status_code == 200
