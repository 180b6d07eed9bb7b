"""Artifacts, models and run comparison in Debian's chromium (Playwright): log in, open an artifact
version whose HTML visualization shows in a sandboxed iframe, compare two runs (Chart.js draws on
its canvas), promote a model version (the stage badge changes). Screenshots land in test-output/.

The scene lives in a tenant of its own, /t/registry/, on the session's dashboard server (gunicorn,
SQLite; tests/e2e/conftest.py dashboard_server), so the runs module's scene in the default tenant
never shows here nor this one there; its local artifact store holds the visualization's file.
"""

import pytest

from tests.e2e.conftest import ROOT, log_in, seed_scene

SCREENSHOTS = ROOT / "test-output"
TENANT = "registry"

SETUP = """
import json
from mlmeta.models import *
from tenants.models import Project, User
from tenants.services import create_tenant
admin = User.objects.get(username={admin!r})
tenant = create_tenant("registry", name="Registry", user=admin)
project = Project.objects.filter(tenant=tenant).first()
owned = dict(project=project, user=admin)
store = StackComponent.objects.create(tenant=tenant, user=admin, name="local-store", type="artifact_store",
    flavor_name="local", configuration={{"path": {store!r}}})
pipeline = Pipeline.objects.create(name="training_pipeline", **owned)
runs = []
for i, (lr, accuracy) in enumerate([(0.1, 0.81), (0.01, 0.93)], start=1):
    snapshot = PipelineSnapshot.objects.create(pipeline=pipeline, run_name_template="run", name=f"s{{i}}",
        pipeline_configuration={{"parameters": {{"epochs": 5}}}},
        step_configurations={{"trainer": {{"config": {{"parameters": {{"lr": lr}}}}}}}}, **owned)
    run = PipelineRun.objects.create(name=f"training_pipeline-run-{{i}}", pipeline=pipeline, snapshot=snapshot,
        status="completed", **owned)
    RunMetadata.objects.create(resource_type="pipeline_run", resource_id=run.pk, key="accuracy", value=accuracy,
        type="float", project=project)
    runs.append(str(run.pk))
artifact = Artifact.objects.create(name="drift_report", **owned)
version = ArtifactVersion.objects.create(artifact=artifact, uri={store!r} + "/drift", artifact_store=store, **owned)
with open({store!r} + "/drift.html", "w") as f:
    f.write("<h1>Data drift</h1><p>No drift detected.</p><script>parent.document.title='pwned'</script>")
ArtifactVisualization.objects.create(artifact_version=version, type="html", uri={store!r} + "/drift.html")
model = Model.objects.create(name="churn_model", license="Apache-2.0", **owned)
model_version = ModelVersion.objects.create(model=model, **owned)
ModelVersionArtifact.objects.create(model_version=model_version, artifact_version=version)
print(json.dumps({{"runs": runs, "version": str(version.pk), "model_version": str(model_version.pk)}}))
"""


@pytest.fixture(scope="module")
def dashboard(dashboard_server):
    """(server, ids): the running MLMeta whose tenant `registry` has two comparable runs, an
    artifact with an HTML visualization and a model."""
    return dashboard_server, seed_scene(dashboard_server, TENANT, SETUP)


def test_visualization_comparison_and_promotion(dashboard, browser):
    from playwright.sync_api import expect

    server, ids = dashboard
    base = f"{server.url}/t/{TENANT}"
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, server, f"/t/{TENANT}/artifacts/")

        # Artifact list -> artifact -> version: the HTML shows inside a sandboxed iframe only.
        page.get_by_role("link", name="drift_report").click()
        page.get_by_role("link", name="1", exact=True).click()
        page.wait_for_url(f"**/artifact-versions/{ids['version']}/")
        frame = page.locator("iframe[sandbox]")
        expect(frame).to_have_count(1)
        assert frame.get_attribute("sandbox") == ""
        expect(page.frame_locator("iframe[sandbox]").locator("h1")).to_have_text("Data drift")
        assert page.title() != "pwned"  # the artifact's script did not run
        page.screenshot(path=str(SCREENSHOTS / "dashboard-artifact-version.png"), full_page=True)

        # Compare the two runs: the differing parameter is marked, Chart.js draws the metric.
        page.goto(f"{base}/runs/compare?ids={','.join(ids['runs'])}")
        expect(page.locator("tr.differs", has_text="trainer.lr")).to_have_count(1)
        expect(page.locator("tr.differs", has_text="pipeline.epochs")).to_have_count(0)
        canvas = page.locator("canvas#compare-chart")
        expect(canvas).to_be_visible()
        page.wait_for_function("() => window.Chart && Chart.getChart('compare-chart') !== undefined")
        drawn = page.evaluate("() => Chart.getChart('compare-chart').data.datasets[0].data")
        assert drawn == [0.81, 0.93]
        page.screenshot(path=str(SCREENSHOTS / "dashboard-run-compare.png"), full_page=True)

        # Promote the model version to production: the badge changes.
        page.goto(f"{base}/model-versions/{ids['model_version']}/")
        badge = page.locator("#stage-badge")
        expect(badge).to_have_text("no stage")
        page.get_by_label("Stage", exact=True).select_option("production")
        page.get_by_role("button", name="Promote").click()
        page.wait_for_load_state()
        expect(badge).to_have_text("production")
        expect(page.locator(".message")).to_contain_text("is now production")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-model-version.png"), full_page=True)
        page.get_by_role("link", name="churn_model").click()
        expect(page.locator("table.runs .stage-production")).to_have_text("production")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-model.png"), full_page=True)

        # The other registry lists, for the screenshots.
        nav = page.get_by_role("navigation", name="Main")
        managed = ("components", "connectors", "members")  # in the top bar's Manage menu
        for name in ("artifacts", "stacks", *managed):
            path = f"/{name}/"
            if name in managed:
                nav.locator("summary", has_text="Manage").click()
            nav.get_by_role("link", name=name.capitalize(), exact=True).click()
            page.wait_for_url(f"{base}{path}")
            page.screenshot(path=str(SCREENSHOTS / f"dashboard-{name}.png"), full_page=True)
        assert errors == [], errors
    finally:
        page.context.close()
