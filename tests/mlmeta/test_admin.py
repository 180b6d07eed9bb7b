"""Admin of the metadata store: fast change lists, validation, links and computed fields."""

import pytest
from django.urls import reverse

from mlmeta.choices import ModelStage
from mlmeta.models import (
    ArtifactVersion,
    Flavor,
    ModelVersion,
    ModelVersionArtifact,
    Pipeline,
    PipelineRun,
    PipelineSnapshot,
    RunMetadata,
    Stack,
    StackComponent,
    StepRun,
)
from tenants.models import Project
from tests.admin_utils import admin_url, form_data, form_errors
from tests.factories import populate


@pytest.fixture
def world_a(tenant_a, alice):
    return populate(tenant_a, alice)


@pytest.fixture
def world_b(tenant_b, charlie):
    return populate(tenant_b, charlie)


@pytest.fixture
def alice_admin(alice_client, world_a):
    return alice_client


@pytest.fixture
def charlie_admin(charlie_client, world_a, world_b):
    return charlie_client


def add_runs(world, count):
    pipeline, project = world[Pipeline], world[Project]
    for number in range(count):
        PipelineRun.objects.create(
            name=f"bulk-{number}", pipeline=pipeline, project=project, user=world.member, status="running"
        )


def test_run_changelist_runs_bounded_queries(alice_admin, world_a, django_assert_max_num_queries):
    add_runs(world_a, 60)
    url = admin_url(PipelineRun, "changelist")
    with django_assert_max_num_queries(12):
        response = alice_admin.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 61
    assert len(response.context["cl"].result_list) == 50


def test_changelists_with_filters_and_search_render(alice_admin, world_a):
    run = world_a[PipelineRun]
    filters = {"status__exact": "completed", "project__id__exact": world_a[Project].pk, "q": "alpha-run"}
    response = alice_admin.get(admin_url(PipelineRun, "changelist"), filters)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [run]
    response = alice_admin.get(admin_url(PipelineRun, "changelist"), {"q": str(run.pk)})
    assert list(response.context["cl"].result_list) == [run]
    response = alice_admin.get(admin_url(StepRun, "changelist"), {"status__exact": "failed"})
    assert list(response.context["cl"].result_list) == []


def test_run_filter_offers_only_own_pipelines(charlie_admin, world_a, world_b):
    content = charlie_admin.get(admin_url(PipelineRun, "changelist")).content.decode()
    assert "beta-training" in content
    assert "alpha-training" not in content


def test_run_page_shows_links_and_computed_fields(alice_admin, world_a):
    run = world_a[PipelineRun]
    content = alice_admin.get(admin_url(PipelineRun, "change", run.pk)).content.decode()
    assert admin_url(StepRun, "change", world_a[StepRun].pk) in content
    assert "5m 00s" in content  # duration
    assert f"?pipeline_run__id__exact={run.pk}" in content  # step count links to the steps


def test_snapshot_page_shows_configuration_read_only(alice_admin, world_a):
    content = alice_admin.get(admin_url(PipelineSnapshot, "change", world_a[PipelineSnapshot].pk)).content.decode()
    assert '<pre class="json">' in content
    assert "&quot;enable_cache&quot;: true" in content
    assert 'name="pipeline_configuration"' not in content


def test_artifact_version_page_links_producer_step(alice_admin, world_a):
    content = alice_admin.get(admin_url(ArtifactVersion, "change", world_a[ArtifactVersion].pk)).content.decode()
    assert admin_url(StepRun, "change", world_a[StepRun].pk) in content


def test_add_pipeline_rejects_duplicate_name_in_project(alice_admin, world_a):
    data = {"name": "alpha-training", "project": world_a[Project].pk}
    response = alice_admin.post(admin_url(Pipeline, "add"), data)
    assert response.status_code == 200
    assert "Pipeline with this Project and Name already exists." in response.content.decode()
    assert Pipeline.objects.filter(name="alpha-training").count() == 1


def test_rename_pipeline_to_existing_name_is_a_form_error(alice_admin, world_a):
    Pipeline.objects.create(name="other", project=world_a[Project])
    url = admin_url(Pipeline, "change", world_a[Pipeline].pk)
    response = alice_admin.post(url, {**form_data(alice_admin.get(url)), "name": "other"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_add_component_rejects_duplicate_name_and_type(alice_admin, world_a):
    data = {"name": "alpha-orchestrator", "type": "orchestrator", "flavor_name": "local", "tenant": world_a.tenant.pk}
    response = alice_admin.post(admin_url(StackComponent, "add"), {**data, "configuration": "{}", "environment": "{}"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert StackComponent.objects.filter(name="alpha-orchestrator").count() == 1


def test_add_component_rejects_unknown_flavor(alice_admin, world_a):
    data = {"name": "new", "type": "orchestrator", "flavor_name": "kubeflow", "tenant": world_a.tenant.pk}
    response = alice_admin.post(admin_url(StackComponent, "add"), {**data, "configuration": "{}", "environment": "{}"})
    assert response.status_code == 200
    assert "no orchestrator flavor named" in response.content.decode()
    assert not StackComponent.objects.filter(name="new").exists()


def test_add_component_saves_with_creator(alice_admin, world_a):
    data = {"name": "k8s", "type": "orchestrator", "flavor_name": "local", "tenant": world_a.tenant.pk}
    data |= {"configuration": '{"namespace": "ml"}', "environment": "{}", "secrets": "[]", "labels": "{}"}
    response = alice_admin.post(admin_url(StackComponent, "add"), data)
    assert response.status_code == 302, form_errors(response)
    component = StackComponent.objects.get(name="k8s")
    assert (component.tenant, component.user) == (world_a.tenant, world_a.member)
    assert component.configuration == {"namespace": "ml"}


def test_component_form_masks_sensitive_configuration(alice_admin, world_a):
    component, flavor = world_a[StackComponent], Flavor.objects.get(tenant=world_a.tenant, type="orchestrator")
    flavor.config_schema = {"properties": {"token": {"type": "string", "sensitive": True}}}
    flavor.save()
    component.configuration = {"token": "s3cr3t-value", "region": "eu"}
    component.save()
    url = admin_url(StackComponent, "change", component.pk)
    page = alice_admin.get(url)
    assert "s3cr3t-value" not in page.content.decode()
    assert alice_admin.post(url, form_data(page)).status_code == 302
    component.refresh_from_db()
    assert component.configuration == {"token": "s3cr3t-value", "region": "eu"}


def test_stack_needs_orchestrator_and_artifact_store(alice_admin, world_a):
    data = {"name": "half", "tenant": world_a.tenant.pk, "components": [world_a[StackComponent].pk]}
    response = alice_admin.post(admin_url(Stack, "add"), {**data, "environment": "{}", "secrets": "[]", "labels": "{}"})
    assert response.status_code == 200
    assert "A stack needs an artifact store." in response.content.decode()
    assert not Stack.objects.filter(name="half").exists()


def test_run_form_rejects_other_tenants_pipeline(charlie_admin, world_a, world_b):
    data = {"name": "sneaky", "project": world_b[Project].pk, "pipeline": world_a[Pipeline].pk, "status": "running"}
    response = charlie_admin.post(admin_url(PipelineRun, "add"), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not PipelineRun.objects.filter(name="sneaky").exists()


def test_run_form_rejects_pipeline_of_other_project(alice_admin, world_a):
    other = Project.objects.create(tenant=world_a.tenant, name="other")
    data = {"name": "mixed", "project": other.pk, "pipeline": world_a[Pipeline].pk, "status": "running"}
    response = alice_admin.post(admin_url(PipelineRun, "add"), data)
    assert response.status_code == 200
    assert "belongs to another project" in response.content.decode()


def test_add_run_takes_next_index(alice_admin, world_a):
    data = {"name": "manual", "project": world_a[Project].pk, "pipeline": world_a[Pipeline].pk, "status": "running"}
    response = alice_admin.post(admin_url(PipelineRun, "add"), data)
    assert response.status_code == 302, form_errors(response)
    run = PipelineRun.objects.get(name="manual")
    assert (run.index, run.tenant_id, run.user) == (2, world_a.tenant.pk, world_a.member)


def test_metadata_must_point_at_existing_resource(alice_admin, world_a, world_b):
    data = {"resource_type": "pipeline_run", "resource_id": world_b[PipelineRun].pk, "key": "loss"}
    data |= {"value": "0.1", "type": "float", "project": world_a[Project].pk}
    response = alice_admin.post(admin_url(RunMetadata, "add"), data)
    assert response.status_code == 200
    assert "No pipeline run with this id here." in response.content.decode()
    assert not RunMetadata.objects.filter(key="loss").exists()


def test_model_version_inline_links_artifact_version(alice_admin, world_a):
    version = world_a[ModelVersion]
    ModelVersionArtifact.objects.filter(model_version=version).delete()
    url = admin_url(ModelVersion, "change", version.pk)
    data = form_data(alice_admin.get(url))
    prefix = "artifact_links"
    data |= {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-artifact_version": world_a[ArtifactVersion].pk}
    data[f"{prefix}-0-model_version"] = version.pk
    response = alice_admin.post(url, data)
    assert response.status_code == 302, form_errors(response)
    link = ModelVersionArtifact.objects.get(model_version=version)
    assert (link.artifact_version, link.tenant_id) == (world_a[ArtifactVersion], world_a.tenant.pk)


def test_model_version_stage_is_exclusive(alice_admin, world_a):
    first = world_a[ModelVersion]
    first.stage = ModelStage.PRODUCTION
    first.save()
    second = ModelVersion.objects.create(model=first.model, project=first.project)
    url = admin_url(ModelVersion, "change", second.pk)
    response = alice_admin.post(url, {**form_data(alice_admin.get(url)), "stage": "production"})
    assert response.status_code == 200
    assert "is already in production" in response.content.decode()


def test_autocomplete_for_runs_hides_other_tenants(charlie_admin, world_a, world_b):
    params = {"app_label": "mlmeta", "model_name": "modelversionpipelinerun", "field_name": "pipeline_run"}
    response = charlie_admin.get(reverse("admin:autocomplete"), params)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {str(world_b[PipelineRun].pk)}


def test_stop_action_stops_running_runs(alice_admin, world_a):
    run = world_a[PipelineRun]
    PipelineRun.objects.filter(pk=run.pk).update(status="running", end_time=None)
    StepRun.objects.filter(pk=world_a[StepRun].pk).update(status="running")
    data = {"action": "stop_runs", "_selected_action": [run.pk]}
    response = alice_admin.post(admin_url(PipelineRun, "changelist"), data)
    assert response.status_code == 302
    run.refresh_from_db()
    world_a[StepRun].refresh_from_db()
    assert (run.status, world_a[StepRun].status) == ("stopped", "stopped")


def test_run_status_is_read_only_on_change(alice_admin, world_a):
    url = admin_url(PipelineRun, "change", world_a[PipelineRun].pk)
    response = alice_admin.post(url, {**form_data(alice_admin.get(url)), "status": "failed"})
    assert response.status_code == 302
    world_a[PipelineRun].refresh_from_db()
    assert world_a[PipelineRun].status == "completed"


def test_step_status_change_updates_its_run(alice_admin, world_a):
    run, step = world_a[PipelineRun], world_a[StepRun]
    PipelineRun.objects.filter(pk=run.pk).update(status="running", end_time=None)
    url = admin_url(StepRun, "change", step.pk)
    response = alice_admin.post(url, {**form_data(alice_admin.get(url)), "status": "failed"})
    assert response.status_code == 302, form_errors(response)
    run.refresh_from_db()
    assert run.status == "failed"
