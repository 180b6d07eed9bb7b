import threading

import pytest
from django.db import IntegrityError, connection, transaction

from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    Model,
    ModelVersion,
    Pipeline,
    PipelineRun,
    Stack,
    StackComponent,
    Tag,
)
from tenants.models import Project


@pytest.fixture
def project(tenant_a):
    return Project.objects.get(tenant=tenant_a, name="default")


def test_runs_are_numbered_per_pipeline(project):
    train = Pipeline.objects.create(project=project, name="train")
    etl = Pipeline.objects.create(project=project, name="etl")
    indexes = [
        PipelineRun.objects.create(project=project, pipeline=p, name=f"r{i}").index
        for i, p in enumerate([train, train, etl, train])
    ]
    assert indexes == [1, 2, 1, 3]
    train.refresh_from_db()
    assert train.run_counter == 3


def test_artifact_versions_count_up_unless_named(project):
    artifact = Artifact.objects.create(project=project, name="dataset")
    common = {"project": project, "artifact": artifact, "uri": "/tmp/x", "materializer": {}, "data_type": {}}
    assert ArtifactVersion.objects.create(**common).version == "1"
    assert ArtifactVersion.objects.create(**common, version="golden").version == "golden"
    second = ArtifactVersion.objects.create(**common)
    assert (second.version, second.version_number) == ("2", 2)


def test_model_versions_take_the_number_as_default_name(project):
    model = Model.objects.create(project=project, name="classifier")
    first = ModelVersion.objects.create(project=project, model=model)
    named = ModelVersion.objects.create(project=project, model=model, name="rc")
    assert (first.number, first.name) == (1, "1")
    assert (named.number, named.name) == (2, "rc")


def test_a_failed_insert_does_not_use_up_a_number(project):
    pipeline = Pipeline.objects.create(project=project, name="train")
    PipelineRun.objects.create(project=project, pipeline=pipeline, name="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        PipelineRun.objects.create(project=project, pipeline=pipeline, name="dup")
    assert PipelineRun.objects.create(project=project, pipeline=pipeline, name="next").index == 2


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (Pipeline, {"name": "train"}, "pipeline name per project"),
        (Artifact, {"name": "data"}, "artifact name per project"),
        (Model, {"name": "clf"}, "model name per project"),
    ],
)
def test_names_are_unique_in_a_project(project, model, kwargs, message):
    model.objects.create(project=project, **kwargs)
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(project=project, **kwargs)


def test_tenant_wide_names_are_unique(tenant_a, tenant_b):
    Tag.objects.create(tenant=tenant_a, name="prod")
    Tag.objects.create(tenant=tenant_b, name="prod")  # another tenant may reuse it
    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(tenant=tenant_a, name="prod")
    Stack.objects.create(tenant=tenant_a, name="gpu")
    with pytest.raises(IntegrityError), transaction.atomic():
        Stack.objects.create(tenant=tenant_a, name="gpu")
    StackComponent.objects.create(tenant=tenant_a, name="s3", type="artifact_store", flavor_name="s3")
    StackComponent.objects.create(tenant=tenant_a, name="s3", type="orchestrator", flavor_name="local")
    with pytest.raises(IntegrityError), transaction.atomic():
        StackComponent.objects.create(tenant=tenant_a, name="s3", type="artifact_store", flavor_name="gcp")


def run_concurrently(workers: int, per_worker: int, create):
    """Start `workers` threads at once, each creating `per_worker` rows with its own connection."""
    barrier = threading.Barrier(workers)
    errors = []

    def work(worker):
        try:
            barrier.wait()
            for i in range(per_worker):
                create(worker, i)
        except Exception as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_distinct_consecutive_numbers(tenant_a):
    project = Project.objects.get(tenant=tenant_a, name="default")
    pipeline = Pipeline.objects.create(project=project, name="train")
    artifact = Artifact.objects.create(project=project, name="data")
    model = Model.objects.create(project=project, name="clf")

    def create(worker, i):
        PipelineRun.objects.create(project=project, pipeline=pipeline, name=f"run-{worker}-{i}")
        ArtifactVersion.objects.create(
            project=project, artifact=artifact, uri=f"/a/{worker}/{i}", materializer={}, data_type={}
        )
        ModelVersion.objects.create(project=project, model=model)

    run_concurrently(workers=4, per_worker=15, create=create)

    total = 60
    assert sorted(PipelineRun.objects.filter(pipeline=pipeline).values_list("index", flat=True)) == list(
        range(1, total + 1)
    )
    assert sorted(
        int(v) for v in ArtifactVersion.objects.filter(artifact=artifact).values_list("version", flat=True)
    ) == list(range(1, total + 1))
    assert sorted(ModelVersion.objects.filter(model=model).values_list("number", flat=True)) == list(
        range(1, total + 1)
    )
