"""The runs dashboard in Debian's chromium (Playwright): log in, filter the runs list, open a run,
see its DAG drawn as SVG by dagre, click a step and read its logs. Screenshots of the runs list,
a run page and a step page land in test-output/.

One MLMeta process (gunicorn, SQLite) for the module, whose local artifact root is a temporary
directory holding the step's log file.
"""

from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ROOT, require, seeded_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output"

SETUP = """
import json
from datetime import timedelta
from django.utils import timezone
from mlmeta.models import *
from tenants.models import Project, Tenant, User
tenant = Tenant.objects.get(is_default=True)
admin = User.objects.get(username={admin!r})
project = Project.objects.filter(tenant=tenant).first()
project = project or Project.objects.create(tenant=tenant, name="default", user=admin)
owned = dict(project=project, user=admin)
pipeline = Pipeline.objects.create(name="training_pipeline", **owned)
other = Pipeline.objects.create(name="serving_pipeline", **owned)
store = StackComponent.objects.create(tenant=tenant, user=admin, name="local", type="artifact_store",
    flavor_name="local", configuration={{"path": {store!r}}})
now = timezone.now()
run = PipelineRun.objects.create(name="training_pipeline-run-1", pipeline=pipeline, status="completed",
    start_time=now - timedelta(minutes=4), end_time=now, **owned)
PipelineRun.objects.create(name="serving_pipeline-run-1", pipeline=other, status="failed",
    start_time=now - timedelta(minutes=2), end_time=now, **owned)
live = PipelineRun.objects.create(name="serving_pipeline-run-2", pipeline=other, status="running",
    start_time=now, **owned)
previous = None
for i, name in enumerate(["load_data", "train_model", "evaluate"]):
    step = StepRun.objects.create(pipeline_run=run, name=name, status="completed",
        start_time=now - timedelta(minutes=4 - i), end_time=now - timedelta(minutes=3 - i), **owned)
    artifact = Artifact.objects.create(name=f"{{name}}_output", **owned)
    version = ArtifactVersion.objects.create(artifact=artifact, uri="/x", **owned)
    StepRunOutput.objects.create(step_run=step, artifact_version=version, name="output")
    if previous:
        StepRunInput.objects.create(step_run=step, artifact_version=previous, name="data")
    previous = version
    if name == "train_model":
        path = {store!r} + "/train_model.log"
        with open(path, "w") as f:
            for level, message in [("INFO", "epoch 1 loss=0.52"), ("WARNING", "learning rate is high"),
                                   ("INFO", "model trained")]:
                f.write(json.dumps({{"level": level, "message": message}}) + "\\n")
        Logs.objects.create(source="step", uri=path, artifact_store=store, step_run=step, pipeline_run=run, **owned)
print(json.dumps({{"run": str(run.pk), "live": str(live.pk)}}))
"""

FINISH = """
from mlmeta.models import PipelineRun
PipelineRun.objects.get(pk={run!r}).update_status("completed")
"""


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """A running MLMeta with two runs (one of three steps, one with logs) and its admin."""
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium")
    with seeded_server(tmp_path_factory.mktemp("dashboard"), SETUP) as scene:
        yield scene


def test_runs_list_run_dag_and_step_logs(dashboard):
    from playwright.sync_api import expect, sync_playwright

    server, ids = dashboard
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.url}/login?next=/runs/")
            page.fill("#id_username", ADMIN_USERNAME)
            page.fill("#id_password", ADMIN_PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{server.url}/runs/")
            table = page.locator("table.runs tbody")
            expect(table).to_contain_text("serving_pipeline-run-1")
            expect(table).to_contain_text("training_pipeline-run-1")
            page.screenshot(path=str(SCREENSHOTS / "dashboard-runs.png"), full_page=True)

            # Live status: the running run finishes on the server; htmx polling updates its badge.
            badge = page.locator(f"#status-{ids['live']}")
            expect(badge).to_have_text("running")
            server.manage("shell", "-c", FINISH.format(run=ids["live"]))
            expect(badge).to_have_text("completed", timeout=15_000)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(SCREENSHOTS / "dashboard-runs-mobile.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})

            # Filter: the failed run goes.
            page.get_by_label("Status").select_option("completed")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**/runs/?*status=completed*")
            expect(table).not_to_contain_text("serving_pipeline-run-1")
            expect(table.locator("tr")).to_have_count(2)  # the training run and the run that just completed
            page.get_by_role("link", name="training_pipeline-run-1").click()

            # The run page: dagre lays out three steps and three artifacts as SVG nodes.
            page.wait_for_url(f"**/runs/{ids['run']}/")
            nodes = page.locator("#dag svg g.node")
            expect(nodes).to_have_count(6)
            expect(page.locator("#dag svg g.node-step")).to_have_count(3)
            assert page.locator("#dag svg polyline.edge").count() == 5
            page.screenshot(path=str(SCREENSHOTS / "dashboard-run.png"), full_page=True)

            # Click the train_model node, read its logs, narrow them to warnings.
            page.locator("#dag svg a", has=page.locator("g.node-step", has_text="train_model")).click()
            page.wait_for_url("**/steps/*/")
            logs = page.locator("#step-logs")
            expect(logs).to_contain_text("epoch 1 loss=0.52")
            expect(logs).to_contain_text("model trained")
            page.get_by_label("Level").select_option("WARNING")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**level=WARNING*")
            expect(logs).to_contain_text("learning rate is high")
            expect(logs).not_to_contain_text("model trained")
            page.screenshot(path=str(SCREENSHOTS / "dashboard-step.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
