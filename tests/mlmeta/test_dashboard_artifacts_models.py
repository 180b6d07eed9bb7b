"""Dashboard pages of artifacts, models and the run comparison: rendering with bounded queries,
RBAC (viewers cannot promote, other tenants see nothing) and XSS payloads in names and
visualizations."""

import io
import json
import zipfile

import pytest

from mlmeta.choices import ArtifactType, MetadataResourceType, ModelStage, TaggableResourceType, VisualizationType
from mlmeta.dashboard import visualizations
from mlmeta.models import (
    Artifact,
    ArtifactVersion,
    ArtifactVisualization,
    Flavor,
    Model,
    ModelVersion,
    PipelineRun,
    PipelineSnapshot,
    RunMetadata,
    Stack,
    StackComponent,
    Tag,
    TagResource,
)
from tenants.models import AuditEvent
from tests.conftest import make_user
from tests.factories import populate

XSS = "<script>alert('pwned')</script>"


@pytest.fixture
def world(tenant_a, alice):
    return populate(tenant_a, alice)


@pytest.fixture
def store_dir(settings, tmp_path, world):
    """The directory of world's local artifact store, readable by the server."""
    settings.MLMETA_LOCAL_ARTIFACT_ROOTS = [str(tmp_path)]
    directory = tmp_path / str(world.store.pk)
    directory.mkdir()
    return directory


def add_visualization(world, store_dir, kind, content, name):
    path = store_dir / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    version = world[ArtifactVersion]
    ArtifactVisualization.objects.create(artifact_version=version, type=kind, uri=str(path))
    return version.visualizations.count() - 1  # its index


def version_page(client, world):
    return client.get(f"/artifact-versions/{world[ArtifactVersion].pk}/")


# --- artifacts --------------------------------------------------------------------------------


def test_artifact_pages_render_with_bounded_queries(alice_client, world, django_assert_max_num_queries):
    artifact, version = world[Artifact], world[ArtifactVersion]
    with django_assert_max_num_queries(12):
        listing = alice_client.get("/artifacts/")
    with django_assert_max_num_queries(12):
        detail = alice_client.get(f"/artifacts/{artifact.pk}/")
    with django_assert_max_num_queries(16):
        page = version_page(alice_client, world)
    assert listing.status_code == detail.status_code == page.status_code == 200
    assert artifact.name in listing.content.decode() and str(version.pk) in detail.content.decode()
    html = page.content.decode()
    assert f"/runs/{world[PipelineRun].pk}/" in html  # producer and consumer run
    assert "Produced by" in html and "(input <code>data</code>)" in html


def test_artifact_list_filters_by_name_type_and_tag(alice_client, world):
    other = Artifact.objects.create(name="alpha-model-weights", project=world[Artifact].project, user=world.member)
    ArtifactVersion.objects.create(artifact=other, uri="/x", type=ArtifactType.MODEL, project=other.project)
    tag = Tag.objects.create(tenant=world.tenant, name="golden")
    TagResource.objects.create(tag=tag, resource_type=TaggableResourceType.ARTIFACT, resource_id=other.pk)

    def names(**params):
        html = alice_client.get("/artifacts/", params).content.decode()
        return {a.name for a in (world[Artifact], other) if f">{a.name}<" in html}

    assert names() == {"alpha-dataset", "alpha-model-weights"}
    assert names(name="weights") == {"alpha-model-weights"}
    assert names(type=ArtifactType.MODEL) == {"alpha-model-weights"}
    assert names(tag="golden") == {"alpha-model-weights"}
    assert names(name="nothing-like-this") == set()


def test_artifact_and_model_names_are_escaped(alice_client, world):
    Artifact.objects.filter(pk=world[Artifact].pk).update(name=XSS)
    Model.objects.filter(pk=world[Model].pk).update(name=XSS, description=XSS)
    pages = ["/artifacts/", f"/artifact-versions/{world[ArtifactVersion].pk}/", "/models/"]
    pages += [f"/models/{world[Model].pk}/", f"/model-versions/{world[ModelVersion].pk}/"]
    for url in pages:
        html = alice_client.get(url).content.decode()
        assert XSS not in html, url
        assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html, url


def test_markdown_visualization_is_sanitised(alice_client, world, store_dir):
    markdown = (
        "# Report\n\n**bold** and [docs](https://example.com) and [click](javascript:alert(1))\n\n"
        f"{XSS}\n\n<img src=x onerror=alert(2)>\n"
    )
    add_visualization(world, store_dir, VisualizationType.MARKDOWN, markdown, "report.md")
    html = version_page(alice_client, world).content.decode()
    assert "<h1>Report</h1>" in html and "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html
    assert "alert('pwned')" not in html and "javascript:" not in html and "onerror" not in html


def test_html_visualization_is_served_sandboxed_from_its_own_url(alice_client, world, store_dir):
    payload = f"<html><body><h1>Drift</h1>{XSS}</body></html>"
    index = add_visualization(world, store_dir, VisualizationType.HTML, payload, "drift.html")
    version = world[ArtifactVersion]
    url = f"/artifact-versions/{version.pk}/visualizations/{index}/"
    page = version_page(alice_client, world).content.decode()
    assert f'<iframe sandbox title="HTML visualization {index + 1}" src="{url}"' in page
    assert "<h1>Drift</h1>" not in page  # never inlined into the dashboard's origin
    frame = alice_client.get(url)
    assert frame.status_code == 200 and frame.content == payload.encode()
    assert frame["Content-Type"] == "text/html; charset=utf-8"
    assert frame["Content-Security-Policy"] == "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert frame["X-Frame-Options"] == "SAMEORIGIN" and frame["X-Content-Type-Options"] == "nosniff"


def test_csv_visualization_is_an_escaped_table(alice_client, world, store_dir):
    rows = ["name,score,note", '"=HYPERLINK(""http://evil.example"",""x"")",1,<b>bold</b>']
    rows += [f"row{i},{i},ok" for i in range(visualizations.CSV_ROWS + 5)]
    add_visualization(world, store_dir, VisualizationType.CSV, "\n".join(rows), "scores.csv")
    html = version_page(alice_client, world).content.decode()
    assert '<th scope="col">score</th>' in html
    assert "<td>=HYPERLINK(&quot;http://evil.example&quot;,&quot;x&quot;)</td>" in html
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in html and "<b>bold</b>" not in html
    assert f"<td>row{visualizations.CSV_ROWS - 2}</td>" in html and f"<td>row{visualizations.CSV_ROWS}</td>" not in html
    assert "Showing the first" in html


def test_json_and_image_visualizations(alice_client, world, store_dir):
    add_visualization(world, store_dir, VisualizationType.JSON, '{"b": [1, 2], "a": "<i>x</i>"}', "stats.json")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    index = add_visualization(world, store_dir, VisualizationType.IMAGE, png, "plot.png")
    svg_index = add_visualization(world, store_dir, VisualizationType.IMAGE, f"<svg>{XSS}</svg>", "plot.svg")
    html = version_page(alice_client, world).content.decode()
    assert "&quot;b&quot;: [\n    1,\n    2\n  ]" in html and "&lt;i&gt;x&lt;/i&gt;" in html
    version = world[ArtifactVersion]
    assert f'<img src="/artifact-versions/{version.pk}/visualizations/{index}/"' in html
    image = alice_client.get(f"/artifact-versions/{version.pk}/visualizations/{index}/")
    assert image["Content-Type"] == "image/png" and image.content == png
    svg = alice_client.get(f"/artifact-versions/{version.pk}/visualizations/{svg_index}/")
    assert svg["Content-Type"] == "image/svg+xml" and svg["Content-Security-Policy"].startswith("sandbox;")


def test_missing_visualization_files_show_a_message(alice_client, world, store_dir):
    version = world[ArtifactVersion]
    ArtifactVisualization.objects.create(
        artifact_version=version, type=VisualizationType.MARKDOWN, uri=str(store_dir / "gone.md")
    )
    page = version_page(alice_client, world)
    assert page.status_code == 200
    assert "This visualization cannot be shown:" in page.content.decode()
    assert "No file or directory at" in page.content.decode()
    assert alice_client.get(f"/artifact-versions/{version.pk}/visualizations/0/").status_code == 404  # /v.html
    assert alice_client.get(f"/artifact-versions/{version.pk}/visualizations/99/").status_code == 404


def test_large_visualizations_are_not_inlined(alice_client, world, store_dir, monkeypatch):
    monkeypatch.setattr(visualizations, "INLINE_MAX_CHARS", 1000)
    values = [f"inlined-value-{i}" for i in range(100)]  # no id on the page can contain these
    add_visualization(world, store_dir, VisualizationType.JSON, json.dumps(values), "big.json")
    html = version_page(alice_client, world).content.decode()
    assert "it is too large to show here" in html and "inlined-value-" not in html


def test_download_zips_the_artifact_or_explains_why_not(alice_client, world, store_dir):
    version = world[ArtifactVersion]
    ArtifactVersion.objects.filter(pk=version.pk).update(uri=str(store_dir / "absent"))
    missing = alice_client.get(f"/artifact-versions/{version.pk}/download/")
    assert missing.status_code == 404 and "cannot be downloaded" in missing.content.decode()
    (store_dir / "data").mkdir()
    (store_dir / "data" / "values.txt").write_text("42")
    ArtifactVersion.objects.filter(pk=version.pk).update(uri=str(store_dir / "data"))
    response = alice_client.get(f"/artifact-versions/{version.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("values.txt") == b"42"


def test_other_tenants_cannot_open_artifacts_or_models(client, world, charlie):
    client.force_login(charlie)
    urls = [
        f"/artifacts/{world[Artifact].pk}/",
        f"/artifact-versions/{world[ArtifactVersion].pk}/",
        f"/artifact-versions/{world[ArtifactVersion].pk}/visualizations/0/",
        f"/artifact-versions/{world[ArtifactVersion].pk}/download/",
        f"/models/{world[Model].pk}/",
        f"/model-versions/{world[ModelVersion].pk}/",
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url  # alpha is the default tenant: not charlie's
        assert client.get(f"/t/beta{url}").status_code == 404, url  # his tenant has no such row
    assert client.get("/t/beta/artifacts/").status_code == 200
    assert world[Artifact].name not in client.get("/t/beta/artifacts/").content.decode()


# --- models -----------------------------------------------------------------------------------


def test_model_pages_render_with_bounded_queries(alice_client, world, django_assert_max_num_queries):
    model = world[Model]
    Model.objects.filter(pk=model.pk).update(license="Apache-2.0", ethics="No personal data.", use_cases="Churn")
    ArtifactVersion.objects.filter(pk=world[ArtifactVersion].pk).update(type=ArtifactType.MODEL)
    with django_assert_max_num_queries(12):
        listing = alice_client.get("/models/")
    with django_assert_max_num_queries(12):
        detail = alice_client.get(f"/models/{model.pk}/")
    with django_assert_max_num_queries(20):
        page = alice_client.get(f"/model-versions/{world[ModelVersion].pk}/")
    assert listing.status_code == detail.status_code == page.status_code == 200
    assert model.name in listing.content.decode()
    html = page.content.decode()
    assert "Apache-2.0" in html and "No personal data." in html and "Churn" in html
    assert "<h3>Model</h3>" in html and f"{world[Artifact].name}:1" in html
    assert world[PipelineRun].name in html and "Promote" in html


def promote(client, version, stage, force=False):
    data = {"stage": stage, **({"force": "on"} if force else {})}
    return client.post(f"/model-versions/{version.pk}/promote/", data)


def test_promote_moves_the_version_and_refuses_a_taken_stage(alice_client, world):
    first = world[ModelVersion]
    second = ModelVersion.objects.create(model=first.model, project=first.project, user=world.member)
    assert promote(alice_client, first, ModelStage.PRODUCTION).status_code == 302
    first.refresh_from_db()
    assert first.stage == ModelStage.PRODUCTION

    refused = promote(alice_client, second, ModelStage.PRODUCTION)
    assert refused.status_code == 400 and "Version 1 is already in production" in refused.content.decode()
    second.refresh_from_db()
    assert second.stage is None

    assert promote(alice_client, second, ModelStage.PRODUCTION, force=True).status_code == 302
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.stage, second.stage) == (ModelStage.ARCHIVED, ModelStage.PRODUCTION)
    event = AuditEvent.objects.filter(resource_id=str(second.pk), detail="promote").get()
    assert event.changes == {"stage": [None, "production"]} and event.actor == world.member
    page = alice_client.get(f"/model-versions/{second.pk}/").content.decode()
    assert '<span class="stage stage-production">production</span>' in page and "Version 1 was archived" in page


def test_promote_rejects_an_unknown_stage(alice_client, world):
    response = promote(alice_client, world[ModelVersion], "retired")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_viewer_cannot_promote(client, world, tenant_a):
    viewer = make_user("bob", tenant_a, role="tenant-viewer")
    client.force_login(viewer)
    version = world[ModelVersion]
    page = client.get(f"/model-versions/{version.pk}/")
    assert page.status_code == 200 and "Promote" not in page.content.decode()
    assert promote(client, version, ModelStage.PRODUCTION, force=True).status_code == 403
    version.refresh_from_db()
    assert version.stage is None


def test_other_tenant_cannot_promote(client, world, charlie):
    client.force_login(charlie)
    version = world[ModelVersion]
    assert promote(client, version, ModelStage.PRODUCTION).status_code == 403
    client.post(f"/t/beta/model-versions/{version.pk}/promote/", {"stage": "production"})
    version.refresh_from_db()
    assert version.stage is None


# --- run comparison ---------------------------------------------------------------------------


@pytest.fixture
def two_runs(world):
    first = world[PipelineRun]
    snapshot = first.snapshot
    PipelineSnapshot.objects.filter(pk=snapshot.pk).update(
        pipeline_configuration={"parameters": {"epochs": 5}},
        step_configurations={"trainer": {"config": {"parameters": {"lr": 0.1, "note": XSS}}}},
    )
    second = PipelineRun.objects.create(
        name="alpha-run-2", pipeline=first.pipeline, snapshot=first.snapshot, project=first.project, user=world.member
    )
    for run, value in ((first, 0.8), (second, 0.9)):
        RunMetadata.objects.create(
            resource_type=MetadataResourceType.PIPELINE_RUN,
            resource_id=run.pk,
            key="accuracy",
            value=value,
            type="float",
            project=run.project,
        )
    return first, second


def test_compare_shows_runs_side_by_side_with_a_chart(alice_client, two_runs, django_assert_max_num_queries):
    first, second = two_runs
    with django_assert_max_num_queries(12):
        response = alice_client.get("/runs/compare", {"ids": f"{first.pk},{second.name}", "key": "accuracy"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<tr class="differs">\n    <th scope="row">accuracy' in html
    assert '<th scope="row">trainer.lr</th>' in html  # the same in both runs: not marked
    assert "pipeline.epochs" in html and XSS not in html
    chart = response.context["chart"]
    assert chart == {"key": "accuracy", "labels": [first.name, second.name], "values": [0.8, 0.9]}
    assert 'id="compare-chart"' in html and "chart-4.5.1.umd.min.js" in html


def test_compare_accepts_checkboxes_posted_from_the_runs_list(alice_client, two_runs):
    first, second = two_runs
    response = alice_client.post("/runs/compare", {"ids": [str(first.pk), str(second.pk)]})
    assert response.status_code == 200 and [r.pk for r in response.context["runs"]] == [first.pk, second.pk]


def test_compare_names_unknown_and_foreign_runs(client, two_runs, charlie):
    first, _ = two_runs
    client.force_login(charlie)
    response = client.get("/t/beta/runs/compare", {"ids": f"{first.pk},no-such-run"})
    assert response.status_code == 400
    html = response.content.decode()
    assert f"No run “{first.pk}”" in html and "No run “no-such-run”" in html
    assert first.name not in html


def test_pages_of_another_tenant_link_inside_it(client, charlie, tenant_b):
    world = populate(tenant_b, charlie)
    client.force_login(charlie)
    html = client.get(f"/t/beta/artifact-versions/{world[ArtifactVersion].pk}/").content.decode()
    assert f'href="/t/beta/runs/{world[PipelineRun].pk}/"' in html
    assert f'src="/t/beta/artifact-versions/{world[ArtifactVersion].pk}/visualizations/0/"' in html


def test_compare_caps_the_number_of_runs(alice_client, world):
    response = alice_client.get("/runs/compare", {"ids": ",".join(f"run-{i}" for i in range(12))})
    assert response.status_code == 400 and "Compare at most 10 runs." in response.content.decode()


def test_safe_markdown_keeps_tables_and_drops_scripts():
    html = visualizations.safe_markdown("| a | b |\n|---|---|\n| 1 | <script>x()</script> |")
    assert "<table>" in html and "<script>" not in html
    assert json.loads(visualizations.pretty_json('{"a": 1}')) == {"a": 1}


# --- stacks and members -----------------------------------------------------------------------


def test_stack_pages_show_components_and_a_read_only_schema_form(alice_client, world, django_assert_max_num_queries):
    stack, orchestrator = world[Stack], world[StackComponent]
    Flavor.objects.filter(tenant=world.tenant, type="orchestrator", name="local").update(
        config_schema={
            "properties": {
                "synchronous": {"type": "boolean", "title": "Synchronous", "default": True},
                "api_token": {"anyOf": [{"type": "string"}, {"type": "null"}], "sensitive": True},
                "labels": {"type": "object", "description": f"Labels {XSS}"},
            }
        }
    )
    StackComponent.objects.filter(pk=orchestrator.pk).update(
        configuration={"api_token": "hunter2-secret", "labels": {"team": XSS}, "extra": 3}
    )
    with django_assert_max_num_queries(12):
        listing = alice_client.get("/stacks/")
    with django_assert_max_num_queries(12):
        page = alice_client.get(f"/stacks/{stack.pk}/")
    assert listing.status_code == page.status_code == 200
    assert stack.name in listing.content.decode() and orchestrator.name in listing.content.decode()
    html = page.content.decode()
    assert "<fieldset disabled>" in html and 'type="checkbox" checked> Synchronous' in html
    assert "hunter2-secret" not in html and "••••••••" in html
    assert XSS not in html and "Labels &lt;script&gt;" in html and 'value="3"' in html


def test_members_page_lists_members_with_their_roles(alice_client, world, tenant_a, django_assert_max_num_queries):
    make_user("bob", tenant_a, role="tenant-viewer")
    with django_assert_max_num_queries(14):
        response = alice_client.get("/members/")
    assert response.status_code == 200
    rows = {m.member.username: [r[0] for r in m.roles] for m in response.context["memberships"]}
    assert set(rows) == {"alice", "bob"}
    assert any("Viewer" in role for role in rows["bob"]), rows


def test_stacks_and_members_of_other_tenants_stay_hidden(client, world, charlie):
    client.force_login(charlie)
    assert client.get(f"/t/beta/stacks/{world[Stack].pk}/").status_code == 404
    assert world[Stack].name not in client.get("/t/beta/stacks/").content.decode()
    members = client.get("/t/beta/members/")
    assert "alice" not in members.content.decode() and "charlie" in members.content.decode()
