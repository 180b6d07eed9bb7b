"""The real zenml 0.98.0 client against a real MLMeta, used the way a user would (wire.md section 8).
The server and the client's subprocesses come from conftest.py; the client code is in scripts/."""

import pytest

from tests.e2e.conftest import ADMIN_USERNAME

PIPELINE = "pipeline.py"
CLIENT_API = "client_api.py"


@pytest.fixture(scope="module")
def pipeline_run(zenml) -> dict:
    """One run of the 2-step pipeline with caching off (wire.md 8.3), as the client reported it."""
    return zenml.script(PIPELINE, "e2e_pipeline").ok().data


def step_statuses(run: dict) -> dict:
    return {name: step["status"] for name, step in run["steps"].items()}


# Log in


def test_cli_logs_in_with_username_and_password(zenml):
    assert ADMIN_USERNAME in zenml.cli("user", "list").ok().output


def test_python_client_knows_the_logged_in_user(zenml):
    data = zenml.script(CLIENT_API, "whoami").ok().data
    assert data == {"name": ADMIN_USERNAME, "same": ADMIN_USERNAME, "project": "default"}


def test_wrong_password_is_refused(new_zenml_client):
    result = new_zenml_client(password="not-the-password").cli("user", "list")
    assert result.returncode != 0
    assert "CredentialsNotValid" in result.output and "invalid username or password" in result.output


# Run a pipeline and read it back


def test_pipeline_runs_to_completion(pipeline_run):
    assert pipeline_run["status"] == "completed"
    assert step_statuses(pipeline_run) == {"produce": "completed", "consume": "completed"}


def test_step_outputs_load_back(zenml, pipeline_run):
    steps = pipeline_run["steps"]
    produced = zenml.script(CLIENT_API, "load", steps["produce"]["outputs"]["output"][0]).ok().data
    assert produced == {"value": [1, 2, 3], "name": "e2e_pipeline::produce::output", "version": "1"}
    consumed = zenml.script(CLIENT_API, "load", steps["consume"]["outputs"]["output"][0]).ok().data
    assert consumed["value"] == 6


def test_cli_lists_the_run(zenml, pipeline_run):
    listing = zenml.cli("pipeline", "runs", "list").ok().output
    assert pipeline_run["id"] in listing


def test_python_client_lists_and_shows_the_run(zenml, pipeline_run):
    shown = zenml.script(CLIENT_API, "show-run", pipeline_run["id"]).ok().data
    assert pipeline_run["id"] in shown["listed"]
    assert shown["name"] == pipeline_run["name"]
    assert shown["status"] == "completed"
    assert shown["steps"] == {"produce": "completed", "consume": "completed"}


def test_rerun_with_caching_reuses_the_steps(new_zenml_client):
    # A client installation of its own: the local artifact store's cache keys include the
    # client's id, so the caching-off run above cannot be the cache hit here.
    client = new_zenml_client()
    first = client.script(PIPELINE, "e2e_cached_pipeline").ok().data
    second = client.script(PIPELINE, "e2e_cached_pipeline").ok().data
    assert first["status"] == second["status"] == "completed"
    assert step_statuses(first) == {"produce": "completed", "consume": "completed"}
    assert step_statuses(second) == {"produce": "cached", "consume": "cached"}
    for name, step in second["steps"].items():
        assert step["original_step_run_id"] == first["steps"][name]["id"]
        assert step["outputs"] == first["steps"][name]["outputs"]


# Tags, metadata, models, secrets, stacks (wire.md 8.6)


def test_tag_register_and_tag_a_run(zenml, pipeline_run):
    zenml.cli("tag", "register", "-n", "e2e-tag").ok()
    # add_tags() posts the tag again, gets 409 and looks it up by name.
    tagged = zenml.script(CLIENT_API, "tag-run", pipeline_run["id"], "e2e-tag").ok().data
    assert tagged["tags"] == ["e2e-tag"]


def test_log_metadata_on_a_run(zenml, pipeline_run):
    data = zenml.script(CLIENT_API, "log-run-metadata", pipeline_run["id"]).ok().data
    assert data["run_metadata"] == {"e2e_score": 0.93, "e2e_note": "hello"}


def test_model_register_and_version(zenml):
    zenml.cli("model", "register", "-n", "e2e-model", "--license", "MIT").ok()
    version = zenml.script(CLIENT_API, "create-model-version", "e2e-model").ok().data
    assert version == {"name": "v1", "number": 1, "model": "e2e-model"}


def test_secret_create_and_get(zenml):
    zenml.cli("secret", "create", "e2e-secret", "--username=e2e-user", "--api_token=e2e-t0k3n").ok()
    shown = zenml.cli("secret", "get", "e2e-secret").ok().output
    assert "e2e-user" in shown and "e2e-t0k3n" in shown


def test_stack_components_and_stack_register(zenml):
    zenml.cli("orchestrator", "register", "e2e-orchestrator", "--flavor", "local").ok()
    zenml.cli("artifact-store", "register", "e2e-store", "--flavor", "local").ok()
    zenml.cli("stack", "register", "e2e-stack", "-o", "e2e-orchestrator", "-a", "e2e-store").ok()
    described = zenml.cli("stack", "describe", "e2e-stack").ok().output
    assert "e2e-orchestrator" in described and "e2e-store" in described
