import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max

from mlmeta import seeding
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    ArtifactVisualization,
    Flavor,
    Logs,
    Model,
    ModelVersion,
    Pipeline,
    PipelineRun,
    PipelineSnapshot,
    RunMetadata,
    Schedule,
    Stack,
    StackComponent,
    StepRun,
    StepRunInput,
    TagResource,
)
from tenants import services
from tenants.models import Project


@pytest.fixture
def tenant(db):
    return services.create_tenant("acme", name="Acme")


def seed_demo(tenant, runs, seed=7) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--tenant", tenant.slug, "--runs", str(runs), "--seed", str(seed), stdout=out)
    return out.getvalue()


def test_builtin_flavors_are_read_once():
    assert seeding.builtin_flavors() is seeding.builtin_flavors()
    flavors = seeding.builtin_flavors()
    assert len(flavors) == 82
    assert len({f["type"] for f in flavors}) == 15


def test_new_tenant_gets_zenmls_default_stack(tenant):
    stack = Stack.objects.get(tenant=tenant, name="default")
    components = {c.type: c for c in stack.components.all()}
    assert set(components) == {"orchestrator", "artifact_store", "deployer"}
    for component in components.values():
        assert (component.name, component.flavor_name, component.user) == ("default", "local", None)
        assert component.configuration == {}
        assert component.get_flavor().source.startswith("zenml.")
    local = Flavor.objects.get(tenant=tenant, type="orchestrator", name="local")
    assert local.source == "zenml.orchestrators.local.local_orchestrator.LocalOrchestratorFlavor"
    assert local.is_custom is False and local.user is None
    assert isinstance(local.config_schema, dict)


def test_seed_tenant_is_idempotent(tenant):
    assert seeding.seed_tenant(tenant) == {"built-in flavors": 0, "default stack": 0, "default stack components": 0}
    assert Flavor.objects.filter(tenant=tenant).count() == 82
    assert StackComponent.objects.filter(tenant=tenant).count() == 3
    assert Stack.objects.filter(tenant=tenant).count() == 1


def test_seeding_keeps_tenants_apart(tenant):
    other = services.create_tenant("beta")
    assert Flavor.objects.filter(tenant=other).count() == 82
    assert Flavor.objects.filter(tenant=tenant).count() == 82
    assert not Stack.objects.get(tenant=other, name="default").components.exclude(tenant=other).exists()


def assert_numbering_consistent(project) -> None:
    for pipeline in Pipeline.objects.filter(project=project):
        indexes = sorted(pipeline.runs.values_list("index", flat=True))
        assert indexes == list(range(1, len(indexes) + 1)), pipeline.name
        assert pipeline.run_counter == len(indexes)
    for artifact in Artifact.objects.filter(project=project):
        numbers = sorted(artifact.versions.values_list("version_number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1)), artifact.name
        assert artifact.version_counter == len(numbers)
    for model in Model.objects.filter(project=project):
        assert model.version_counter == model.versions.aggregate(n=Max("number"))["n"] == model.versions.count()


def test_seed_demo_creates_runs_with_consistent_numbering(tenant):
    output = seed_demo(tenant, 50)

    project = tenant_project(tenant)
    runs = PipelineRun.objects.filter(project=project)
    assert runs.count() == 50
    assert "Added 50 runs" in output and "runs/s" in output
    assert set(Pipeline.objects.filter(project=project).values_list("name", flat=True)) == {
        "training_pipeline",
        "etl_pipeline",
        "batch_inference",
    }
    assert_numbering_consistent(project)
    statuses = Counter(runs.values_list("status", flat=True))
    assert statuses["completed"] > 35 and statuses["running"] >= 1
    assert set(statuses) <= {"completed", "failed", "running"}


def test_seed_demo_again_appends_and_continues_numbering(tenant):
    seed_demo(tenant, 50)
    seed_demo(tenant, 50)  # the same seed: names must still be unique

    project = tenant_project(tenant)
    names = list(PipelineRun.objects.filter(project=project).values_list("name", flat=True))
    assert len(names) == len(set(names)) == 100
    assert_numbering_consistent(project)
    assert PipelineSnapshot.objects.filter(project=project).count() == 3
    assert Schedule.objects.filter(project=project).count() == 1


def test_seed_demo_runs_are_complete_and_linked(tenant):
    seed_demo(tenant, 60, seed=3)
    project = tenant_project(tenant)

    for run in PipelineRun.objects.filter(project=project).exclude(status="running"):
        assert run.end_time and run.end_time >= run.start_time
        assert run.tenant_id == tenant.id and run.snapshot_id and run.stack_id
    failed = StepRun.objects.filter(project=project, status="failed")
    assert all(step.exception_info["traceback"] for step in failed)
    assert PipelineRun.objects.filter(project=project, status="failed").count() == failed.count()
    assert StepRun.objects.filter(project=project, status="running", end_time=None).exists()
    # Every consumed artifact version was produced by a step, and every produced one has a producer link.
    assert not StepRunInput.objects.filter(tenant=tenant, artifact_version__producer_links=None).exists()
    assert not ArtifactVersion.objects.filter(project=project, producer_links=None).exists()
    assert ArtifactVisualization.objects.filter(tenant=tenant).exists()
    assert (
        Logs.objects.filter(project=project, source="step").count() == StepRun.objects.exclude(status="cached").count()
    )
    accuracy = RunMetadata.objects.filter(project=project, resource_type="pipeline_run", key="accuracy")
    assert accuracy.exists() and all(m.type == "float" and 0 < m.value < 1 for m in accuracy)
    assert TagResource.objects.filter(tenant=tenant, resource_type="pipeline_run").exists()
    churn = Model.objects.get(project=project, name="churn_classifier")
    assert set(churn.versions.exclude(stage=None).values_list("stage", flat=True)) == {"staging", "production"}
    assert ModelVersion.objects.filter(model=churn, artifact_links__isnull=False).exists()
    assert ModelVersion.objects.filter(model=churn, run_links__isnull=False).exists()


def test_seed_demo_rejects_unknown_tenant(db):
    with pytest.raises(CommandError, match="Tenant 'nope' does not exist"):
        call_command("seed_demo", "--tenant", "nope", "--runs", "5")


def tenant_project(tenant):
    return Project.objects.get(tenant=tenant, name="default")


def test_seed_demo_seeds_a_tenant_created_without_seeds(tenant_a):
    seed_demo(tenant_a, 5)
    assert Stack.objects.filter(tenant=tenant_a, name="default").exists()
    assert PipelineRun.objects.filter(tenant=tenant_a).count() == 5
