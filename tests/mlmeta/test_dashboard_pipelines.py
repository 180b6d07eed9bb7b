"""The Pipelines pages: the list (latest run status, run count, last run, tags, search, pages,
bounded queries, getting-started state) and one pipeline (description, runs, snapshots)."""

from datetime import timedelta

from django.utils import timezone

from mlmeta.choices import ExecutionStatus, TaggableResourceType
from mlmeta.dashboard import pipelines
from mlmeta.models import Pipeline, PipelineRun, PipelineSnapshot, Stack, Tag, TagResource
from tests.mlmeta.test_dashboard_runs import XSS, make_run, store_root, world  # noqa: F401  (fixtures)


def tag(world, resource, name, resource_type=TaggableResourceType.PIPELINE):  # noqa: F811
    label, _ = Tag.objects.get_or_create(tenant=world["project"].tenant, name=name, defaults={"user": world["user"]})
    TagResource.objects.create(tag=label, resource_type=resource_type, resource_id=resource.pk)


def snapshot(world, pipeline, name, stack=None):  # noqa: F811
    return PipelineSnapshot.objects.create(
        pipeline=pipeline, name=name, stack=stack, project=world["project"], user=world["user"]
    )


def test_nav_links_the_dashboard_pipelines_page(alice_client, world):  # noqa: F811
    body = alice_client.get("/pipelines/").content.decode()
    assert '<a href="/pipelines/" aria-current="page">Pipelines</a>' in body
    assert "/admin/mlmeta/pipeline/" not in body


def test_pipelines_list_shows_latest_run_count_last_run_and_tags(alice_client, world):  # noqa: F811
    old = make_run(world, "training-1")
    PipelineRun.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=3))
    latest = make_run(world, "training-2", status=ExecutionStatus.FAILED)
    idle = Pipeline.objects.create(name="idle", project=world["project"], user=world["user"])
    tag(world, world["pipeline"], "prod")
    response = alice_client.get("/pipelines/")
    assert response.status_code == 200
    rows = {p.name: p for p in response.context["pipelines"]}
    assert list(rows) == ["training", "idle"]  # the most recently run first
    training = rows["training"]
    assert (training.run_count, training.latest_run.pk, [t.name for t in training.tag_list]) == (2, latest.pk, ["prod"])
    assert rows["idle"].latest_run is None and rows["idle"].run_count == 0
    body = response.content.decode()
    assert f'<span id="status-{latest.pk}" class="status status-failed">failed</span>' in body
    assert f'href="/pipelines/{idle.pk}/"' in body and "never" in body


def test_pipelines_search_and_pages(alice_client, world):  # noqa: F811
    for i in range(55):
        Pipeline.objects.create(name=f"etl-{i:02d}", project=world["project"], user=world["user"])
    found = alice_client.get("/pipelines/?q=ETL-0")
    assert sorted(p.name for p in found.context["pipelines"]) == [f"etl-0{i}" for i in range(10)]
    first = alice_client.get("/pipelines/")
    second = alice_client.get("/pipelines/?page=2")
    assert len(first.context["pipelines"]) == 50 and len(second.context["pipelines"]) == 6
    assert alice_client.get("/pipelines/?page=99").status_code == 404
    assert "No pipelines match" in alice_client.get("/pipelines/?q=nothing-like-this").content.decode()


def test_pipelines_list_queries_are_bounded(alice_client, world, django_assert_max_num_queries):  # noqa: F811
    for i in range(20):
        pipeline = Pipeline.objects.create(name=f"p-{i}", project=world["project"], user=world["user"])
        make_run(world, f"p-{i}-run", pipeline=pipeline)
        tag(world, pipeline, f"t-{i % 3}")
    with django_assert_max_num_queries(15):
        response = alice_client.get("/pipelines/")
    assert response.status_code == 200 and len(response.context["pipelines"]) == 21


def test_empty_pipelines_page_tells_a_new_user_what_to_do(alice_client, world):  # noqa: F811
    world["pipeline"].delete()
    body = alice_client.get("/pipelines/").content.decode()
    assert "zenml login http://testserver" in body
    assert "manage.py seed_demo --tenant alpha" in body


def test_pipeline_page_shows_description_runs_and_snapshots(alice_client, world):  # noqa: F811
    pipeline = world["pipeline"]
    Pipeline.objects.filter(pk=pipeline.pk).update(description=f"Trains the model {XSS}")
    run = make_run(world, "training-1")
    tag(world, run, "nightly", TaggableResourceType.PIPELINE_RUN)
    stack = Stack.objects.create(name="k8s", tenant=world["project"].tenant, user=world["user"])
    first = snapshot(world, pipeline, "snap-a", stack=stack)
    snapshot(world, pipeline, "snap-b")
    other = Pipeline.objects.create(name="serving", project=world["project"], user=world["user"])
    make_run(world, "serving-1", pipeline=other)
    response = alice_client.get(f"/pipelines/{pipeline.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Trains the model &lt;script&gt;" in body and XSS not in body
    assert "{#" not in body and "{%" not in body  # no template comment or tag leaks as text
    assert [r.name for r in response.context["runs"]] == ["training-1"]
    assert f'href="/runs/{run.pk}/"' in body and 'href="/runs/?tag=nightly"' in body
    assert [s.name for s in response.context["snapshots"]] == ["snap-b", "snap-a"]
    assert f'<a href="/stacks/{stack.pk}/">k8s</a>' in body and f'<a href="/snapshots/{first.pk}/">snap-a</a>' in body
    assert f'href="/runs/?pipeline={pipeline.pk}"' in body


def test_pipeline_page_queries_are_bounded(alice_client, world, django_assert_max_num_queries):  # noqa: F811
    for i in range(30):
        make_run(world, f"run-{i}")
        snapshot(world, world["pipeline"], f"snap-{i}")
    with django_assert_max_num_queries(20):
        response = alice_client.get(f"/pipelines/{world['pipeline'].pk}/")
    assert len(response.context["runs"]) == 25 and response.context["more_runs"]


def test_pipeline_of_another_tenant_or_missing_is_a_404(client, charlie, world):  # noqa: F811
    client.force_login(charlie)
    assert client.get(f"/t/beta/pipelines/{world['pipeline'].pk}/").status_code == 404
    assert list(client.get("/t/beta/pipelines/").context["pipelines"]) == []
    client.force_login(world["user"])
    assert client.get("/pipelines/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_run_counts_stop_counting_at_the_cap(alice_client, world, monkeypatch):  # noqa: F811
    monkeypatch.setattr(pipelines, "RUN_COUNT_CAP", 2)
    for i in range(3):
        make_run(world, f"run-{i}")
    response = alice_client.get("/pipelines/")
    assert [p.run_count for p in response.context["pipelines"]] == [3]  # cap + 1: "more than the cap"
    assert f'href="/runs/?pipeline={world["pipeline"].pk}">2+</a>' in response.content.decode()
