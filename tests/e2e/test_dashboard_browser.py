"""The runs dashboard in Debian's chromium (Playwright): log in, filter the runs list, open a run,
see its DAG drawn as SVG by dagre, click a step and read its logs; create and delete a schedule
under Automation; run a snapshot from its Run form and land on the new run; approve a `zenml
login` device. Screenshots of the runs list, a run page, a step page, the schedules, the Run form
and the device approval land in test-output/.

The scene is seeded into the default tenant of the session's dashboard server (gunicorn, SQLite;
tests/e2e/conftest.py dashboard_server), whose local artifact root holds the step's log file. The
module's tests share one chromium (the `browser` fixture), each in a context of its own.
"""

import uuid

import pytest
import requests

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ROOT, log_in, seed_scene

SCREENSHOTS = ROOT / "test-output"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# What `zenml login` sends about itself (wire.md 3.3); the approval page shows it.
CLIENT_AGENT = "Host/e2e-laptop ZenML/0.98.0 Python/3.11.7 OS/Linux"

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
tuning = Pipeline.objects.create(name="tuning_pipeline", **owned)
snapshot = PipelineSnapshot.objects.create(name="tuning-v1", pipeline=tuning,
    stack=Stack.objects.get(tenant=tenant, name="default"), run_name_template="tuning-{{date}}-{{time}}",
    pipeline_configuration={{"name": "tuning_pipeline", "parameters": {{"epochs": 3, "optimizer": "adam"}}}},
    step_configurations={{"tune": {{"config": {{"name": "tune", "parameters": {{"epochs": 3}}}}}}}},
    config_schema={{"type": "object", "properties": {{"parameters": {{"type": "object", "properties": {{
        "epochs": {{"type": "integer"}}, "optimizer": {{"type": "string", "enum": ["adam", "sgd"]}}}}}}}}}}, **owned)
print(json.dumps({{"run": str(run.pk), "live": str(live.pk), "snapshot": str(snapshot.pk)}}))
"""

FINISH = """
from mlmeta.models import PipelineRun
PipelineRun.objects.get(pk={run!r}).update_status("completed")
"""


@pytest.fixture(scope="module")
def dashboard(dashboard_server):
    """(server, ids): the running MLMeta whose default tenant has the runs above (one of three
    steps, one with logs) and its admin."""
    return dashboard_server, seed_scene(dashboard_server, "runs", SETUP)


def test_runs_list_run_dag_and_step_logs(dashboard, browser):
    from playwright.sync_api import expect

    server, ids = dashboard
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, server, "/runs/")
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
        page.context.close()


def test_automation_create_list_and_delete_a_schedule(dashboard, browser):
    from playwright.sync_api import expect

    server, _ = dashboard
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        log_in(page, server, "/runs/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Automation").click()
        page.wait_for_url("**/schedules/")
        page.get_by_role("link", name="New schedule").click()
        page.get_by_label("Name").fill("nightly-tuning")
        page.get_by_label("Snapshot").select_option(label="tuning-v1")
        page.get_by_label("Cron expression").fill("0 3 * * *")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**/schedules/")
        row = page.locator("table.runs tbody tr", has_text="nightly-tuning")
        expect(row).to_contain_text("0 3 * * *")
        expect(row).to_contain_text("tuning_pipeline")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-schedules.png"), full_page=True)

        row.get_by_role("link", name="Delete schedule nightly-tuning").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Delete schedule nightly-tuning?")
        page.get_by_role("button", name="Delete schedule").click()
        page.wait_for_url("**/schedules/")
        expect(page.get_by_role("status")).to_contain_text("Deleted schedule nightly-tuning.")
        expect(page.locator("table.runs tbody tr", has_text="nightly-tuning")).to_have_count(0)
        assert errors == [], errors
    finally:
        page.context.close()


def test_run_form_of_a_snapshot_lands_on_the_new_run(dashboard, browser):
    from playwright.sync_api import expect

    server, ids = dashboard
    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        snapshot_path = f"/snapshots/{ids['snapshot']}/"
        log_in(page, server, snapshot_path)
        expect(page.locator("dl.facts")).to_contain_text("by the local runner")
        page.get_by_role("link", name="Run", exact=True).click()
        page.wait_for_url(f"**{snapshot_path}run")
        epochs = page.get_by_label("epochs")
        expect(epochs).to_have_value("3")
        expect(page.get_by_label("optimizer")).to_have_value('"adam"')

        # The launcher's refusal comes back on the field it names; nothing is started.
        page.get_by_label("Other overrides").fill('{"parameters": {"nope": 1}}')
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_role("alert").filter(has_text="Unknown parameter 'nope'")).to_be_visible()
        page.get_by_label("Other overrides").fill("")
        epochs.fill("5")
        page.get_by_label("optimizer").select_option(label="sgd")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-run-form.png"), full_page=True)
        page.get_by_role("button", name="Run", exact=True).click()

        page.wait_for_url("**/runs/*/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("tuning-")
        expect(page.locator("h1 .status")).to_have_text("initializing")
        expect(page.locator("#run-poller")).to_have_attribute("hx-trigger", "every 5s")
        expect(page.locator("dl.facts")).to_contain_text("dashboard, local runner")
        expect(page.locator("#config-h ~ pre.json")).to_contain_text('"epochs": 5')
        page.screenshot(path=str(SCREENSHOTS / "dashboard-launched-run.png"), full_page=True)
        assert errors == [], errors
    finally:
        page.context.close()


def test_top_bar_fits_one_row_manage_menu_by_keyboard_and_no_csp_violations(dashboard, browser):
    """At 1280 px the top bar is one row; the Manage menu opens and closes with the keyboard; at
    375 px nothing scrolls sideways; dashboard and admin pages load with no CSP violation."""
    from playwright.sync_api import expect

    server, ids = dashboard
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        violations = []
        page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(msg.text))
        log_in(page, server, "/runs/")

        header = page.locator("header.topbar")
        assert header.bounding_box()["height"] < 64, header.bounding_box()
        summary = page.locator("details.manage > summary")
        secrets = page.get_by_role("link", name="Secrets")
        expect(secrets).to_be_hidden()
        summary.focus()
        page.keyboard.press("Enter")
        expect(secrets).to_be_visible()
        page.keyboard.press("Tab")
        expect(page.locator("details.manage a").first).to_be_focused()
        page.keyboard.press("Escape")
        expect(secrets).to_be_hidden()
        expect(summary).to_be_focused()
        page.keyboard.press("Space")
        expect(secrets).to_be_visible()
        secrets.click()
        page.wait_for_url("**/secrets")
        expect(page.locator("details.manage > summary")).to_have_attribute("aria-current", "true")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-topbar.png"))

        page.set_viewport_size({"width": 375, "height": 800})
        page.goto(f"{server.url}/runs/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.locator("details.manage > summary").click()
        expect(page.get_by_role("link", name="Members")).to_be_in_viewport()
        page.screenshot(path=str(SCREENSHOTS / "dashboard-topbar-mobile.png"))

        page.set_viewport_size({"width": 1280, "height": 800})
        for path in (f"/runs/{ids['run']}/", "/admin/", "/admin/mlmeta/pipelinerun/", "/admin/mlmeta/pipeline/"):
            page.goto(f"{server.url}{path}")
            assert page.title(), path
        page.goto(f"{server.url}/admin/mlmeta/pipelinerun/{ids['run']}/change/")
        expect(page.locator("#content h1")).to_be_visible()
        assert violations == [], violations
    finally:
        page.context.close()


def test_device_of_zenml_login_approved_in_the_browser(dashboard, browser):
    """The device flow as `zenml login URL` drives it (wire.md 3.3): the client asks for a device
    code and polls the token endpoint; the user opens the verification link in the browser,
    logged in, and approves; the next poll gets a token that works on the API, once."""
    from playwright.sync_api import expect

    server, _ = dashboard
    client_id = str(uuid.uuid4())
    started = requests.post(
        f"{server.url}/api/v1/device_authorization",
        data={"client_id": client_id},
        headers={"User-Agent": CLIENT_AGENT},
        timeout=30,
    )
    assert started.status_code == 200, started.text
    authorization = started.json()
    link = authorization["verification_uri_complete"]
    assert link.startswith(f"{server.url}/devices/verify?device_id=")

    def poll() -> requests.Response:
        form = {"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": authorization["device_code"]}
        return requests.post(f"{server.url}/api/v1/login", data=form, timeout=30)

    pending = poll()
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending", pending.text

    SCREENSHOTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(link)  # not logged in yet: the login page, which comes back here
        page.fill("#id_username", ADMIN_USERNAME)
        page.fill("#id_password", ADMIN_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(link)
        expect(page.get_by_role("heading", name="Approve a device")).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text("e2e-laptop")
        expect(page.get_by_label("User code (in the link your terminal printed)")).to_have_value(
            authorization["user_code"]
        )
        page.screenshot(path=str(SCREENSHOTS / "dashboard-device-verify.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("heading", name="Device approved")).to_be_visible()
        expect(page.locator("main")).to_contain_text(f"e2e-laptop is now logged in to Default as {ADMIN_USERNAME}")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-device-approved.png"), full_page=True)
        assert errors == [], errors
    finally:
        page.context.close()

    granted = poll()
    assert granted.status_code == 200, granted.text
    token = granted.json()
    assert token["token_type"] == "bearer" and token["access_token"], token
    me = requests.get(
        f"{server.url}/api/v1/current-user", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30
    )
    assert me.status_code == 200, me.text
    assert me.json()["name"] == ADMIN_USERNAME
    again = poll()  # a device code buys one token
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
