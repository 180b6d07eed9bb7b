"""The real zenml 0.98.0 client against a real MLMeta, used the way a user would (wire.md section 8).
The server and the client's subprocesses come from conftest.py; the client code is in scripts/.

Every test runs twice: against the default tenant at the server's root URL and against tenant
`acme` at <server>/t/acme, logged in as a member of that tenant only. The last test reads MLMeta's
own database to check that the scenario was recorded in the tenant the client used, and only there.
"""

import json
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

PIPELINE = "pipeline.py"
CLIENT_API = "client_api.py"
# The member test_zenml_auth.py gives `acme` too: the tenant is made once per session.
ACME_USERNAME, ACME_PASSWORD = "acme-dev", "acme-Correct-Horse-7"
TENANT_KEYS = ("root", "acme")


@dataclass
class Tenant:
    key: str  # "root" (the default tenant, at the root URL) or "acme"
    url: str
    username: str
    password: str

    def name(self, base: str) -> str:
        """A name of this tenant's scenario, unlike any of the other tenant's."""
        return f"{base}-{self.key}"


def names(key: str) -> dict[str, list[str]]:
    """The names tenant `key`'s scenario gives its tags, models, secrets, stacks and components."""
    return {
        "tag": [f"e2e-tag-{key}"],
        "model": [f"e2e-model-{key}"],
        "secret": [f"e2e-secret-{key}", f"e2e-kept-secret-{key}"],
        "stack": [f"e2e-stack-{key}"],
        "component": [f"e2e-orchestrator-{key}", f"e2e-store-{key}"],
    }


@pytest.fixture(scope="module", params=TENANT_KEYS)
def tenant(request, mlmeta_server) -> Tenant:
    if request.param == "root":
        return Tenant("root", mlmeta_server.url, ADMIN_USERNAME, ADMIN_PASSWORD)
    url = mlmeta_server.add_tenant("acme", ACME_USERNAME, ACME_PASSWORD)
    return Tenant("acme", url, ACME_USERNAME, ACME_PASSWORD)


@pytest.fixture(scope="module")
def zenml(new_zenml_client, tenant):
    """The client installation shared by this tenant's tests (its runs' artifacts live in its stores)."""
    return new_zenml_client(url=tenant.url, username=tenant.username, password=tenant.password)


@pytest.fixture(scope="module")
def pipeline_run(zenml) -> dict:
    """One run of the 2-step pipeline with caching off (wire.md 8.3), as the client reported it."""
    return zenml.script(PIPELINE, "e2e_pipeline").ok().data


@pytest.fixture(scope="module")
def cached_runs(new_zenml_client, tenant) -> tuple[dict, dict]:
    """Two runs of the pipeline with caching on; the second is the cache hit of the first.

    A client installation of its own: the local artifact store's cache keys include the
    client's id, so the caching-off run above cannot be the cache hit here."""
    client = new_zenml_client(url=tenant.url, username=tenant.username, password=tenant.password)
    first = client.script(PIPELINE, "e2e_cached_pipeline").ok().data
    second = client.script(PIPELINE, "e2e_cached_pipeline").ok().data
    return first, second


@pytest.fixture(scope="module")
def loaded_output(zenml, pipeline_run) -> dict:
    """The `produce` step's output, loaded back by the Python client."""
    return zenml.script(CLIENT_API, "load", pipeline_run["steps"]["produce"]["outputs"]["output"][0]).ok().data


@pytest.fixture(scope="module")
def tagged_run(zenml, tenant, pipeline_run) -> dict:
    zenml.cli("tag", "register", "-n", tenant.name("e2e-tag")).ok()
    # add_tags() posts the tag again, gets 409 and looks it up by name.
    return zenml.script(CLIENT_API, "tag-run", pipeline_run["id"], tenant.name("e2e-tag")).ok().data


@pytest.fixture(scope="module")
def run_metadata(zenml, pipeline_run) -> dict:
    return zenml.script(CLIENT_API, "log-run-metadata", pipeline_run["id"]).ok().data


@pytest.fixture(scope="module")
def model_version(zenml, tenant) -> dict:
    zenml.cli("model", "register", "-n", tenant.name("e2e-model"), "--license", "MIT").ok()
    return zenml.script(CLIENT_API, "create-model-version", tenant.name("e2e-model")).ok().data


@pytest.fixture(scope="module")
def kept_secret(zenml, tenant) -> str:
    """A secret left in place for the database check; its value is the one returned."""
    value = f"e2e-kept-marker-{tenant.key}-Qx7"
    zenml.cli("secret", "create", tenant.name("e2e-kept-secret"), f"--api_token={value}").ok()
    return value


@pytest.fixture(scope="module")
def described_stack(zenml, tenant) -> str:
    orchestrator, store = tenant.name("e2e-orchestrator"), tenant.name("e2e-store")
    zenml.cli("orchestrator", "register", orchestrator, "--flavor", "local").ok()
    zenml.cli("artifact-store", "register", store, "--flavor", "local").ok()
    zenml.cli("stack", "register", tenant.name("e2e-stack"), "-o", orchestrator, "-a", store).ok()
    return zenml.cli("stack", "describe", tenant.name("e2e-stack")).ok().output


def step_statuses(run: dict) -> dict:
    return {name: step["status"] for name, step in run["steps"].items()}


# Log in


def test_cli_logs_in_with_username_and_password(zenml, tenant):
    assert tenant.username in zenml.cli("user", "list").ok().output


def test_python_client_knows_the_logged_in_user(zenml, tenant):
    data = zenml.script(CLIENT_API, "whoami").ok().data
    assert data == {"name": tenant.username, "same": tenant.username, "project": "default"}


def test_wrong_password_is_refused(new_zenml_client, tenant):
    result = new_zenml_client(url=tenant.url, username=tenant.username, password="not-the-password").cli("user", "list")
    assert result.returncode != 0
    assert "CredentialsNotValid" in result.output and "invalid username or password" in result.output


# Run a pipeline and read it back


def test_pipeline_runs_to_completion(pipeline_run):
    assert pipeline_run["status"] == "completed"
    assert step_statuses(pipeline_run) == {"produce": "completed", "consume": "completed"}


def test_step_outputs_load_back(zenml, pipeline_run, loaded_output):
    # The version is "1" unless an earlier module ran this pipeline in the tenant (the database
    # check below compares it with MLMeta's record).
    assert loaded_output["value"] == [1, 2, 3] and loaded_output["name"] == "e2e_pipeline::produce::output"
    assert loaded_output["version"].isdigit()
    consumed = zenml.script(CLIENT_API, "load", pipeline_run["steps"]["consume"]["outputs"]["output"][0]).ok().data
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


def test_rerun_with_caching_reuses_the_steps(cached_runs):
    first, second = cached_runs
    assert first["status"] == second["status"] == "completed"
    assert step_statuses(first) == {"produce": "completed", "consume": "completed"}
    assert step_statuses(second) == {"produce": "cached", "consume": "cached"}
    for name, step in second["steps"].items():
        assert step["original_step_run_id"] == first["steps"][name]["id"]
        assert step["outputs"] == first["steps"][name]["outputs"]


# Tags, metadata, models, secrets, stacks (wire.md 8.6)


def test_tag_register_and_tag_a_run(tenant, tagged_run):
    assert tagged_run["tags"] == [tenant.name("e2e-tag")]


def test_log_metadata_on_a_run(run_metadata):
    assert run_metadata["run_metadata"] == {"e2e_score": 0.93, "e2e_note": "hello"}


def test_model_register_and_version(tenant, model_version):
    assert model_version == {"name": "v1", "number": 1, "model": tenant.name("e2e-model")}


def test_secret_create_read_update_delete(zenml, tenant):
    name = tenant.name("e2e-secret")
    zenml.cli("secret", "create", name, "--username=e2e-user", "--api_token=e2e-t0k3n").ok()
    shown = zenml.cli("secret", "get", name).ok().output
    assert "e2e-user" in shown and "e2e-t0k3n" in shown

    zenml.cli("secret", "update", name, "--username=e2e-renamed").ok()
    shown = zenml.cli("secret", "get", name).ok().output
    assert "e2e-renamed" in shown and "e2e-t0k3n" in shown and "e2e-user" not in shown

    zenml.cli("secret", "delete", name, "-y").ok()
    gone = zenml.cli("secret", "get", name)
    assert gone.returncode != 0, gone.describe()
    assert name not in zenml.cli("secret", "list").ok().output


def test_stack_components_and_stack_register(tenant, described_stack):
    assert tenant.name("e2e-orchestrator") in described_stack and tenant.name("e2e-store") in described_stack


# What MLMeta recorded, read from its own database

INSPECT = """
import json
from django.apps import apps
from django.db import connection
from mlmeta.models import Model, PipelineRun, RunMetadata, Stack, StackComponent, Tag, TagResource
from secrets_app.models import Secret
from tenants.models import Tenant

args = json.loads(ARGS)
default = Tenant.objects.get(is_default=True).slug


def slug(row):
    return row.tenant.slug


def run(pk):
    found = PipelineRun.objects.get(pk=pk)
    steps = {}
    for step in found.steps.all():
        outputs = [
            {"id": str(link.artifact_version_id), "tenant": slug(link.artifact_version),
             "artifact": link.artifact_version.artifact.name, "version": link.artifact_version.version}
            for link in step.output_links.all()
        ]
        steps[step.name] = {"id": str(step.pk), "tenant": slug(step), "status": step.status,
                            "original": str(step.original_step_run_id or ""), "outputs": outputs}
    return {"tenant": slug(found), "status": found.status, "steps": steps}


by_name = {"tag": Tag.objects, "model": Model.objects, "secret": Secret.objects, "stack": Stack.objects,
           "component": StackComponent.objects}
tenants_by_name = {
    kind: {name: sorted(slug(row) for row in manager.filter(name=name)) for name in args["names"][kind]}
    for kind, manager in by_name.items()
}

dump = []
with connection.cursor() as cursor:
    for model in apps.get_app_config("secrets_app").get_models():
        cursor.execute("SELECT * FROM " + connection.ops.quote_name(model._meta.db_table))
        dump.extend(repr(row) for row in cursor.fetchall())
dump = "\\n".join(dump)

model = Model.objects.get(name=args["model"])
stack = Stack.objects.get(name=args["stack"])
secret = Secret.objects.get(name=args["secret"])
metadata = RunMetadata.objects.filter(resource_id=args["runs"][0], key__startswith="e2e_")
print(json.dumps({
    "default": default,
    "runs": {pk: run(pk) for pk in args["runs"]},
    "tags": sorted([link.tag.name, slug(link.tag), slug(link), link.resource_type]
                   for link in TagResource.objects.filter(resource_id=args["runs"][0])),
    "metadata": {row.key: [row.value, slug(row)] for row in metadata},
    "model": {"tenant": slug(model), "versions": [[v.number, v.name, slug(v)] for v in model.versions.all()]},
    "stack": {"tenant": slug(stack), "components": sorted([c.name, slug(c)] for c in stack.components.all())},
    "secret": {"tenant": slug(secret), "keys": secret.keys},
    "secret_rows": dump.count("\\n") + 1 if dump else 0,
    "plaintext_found": [value for value in args["plaintext"] if value in dump],
    "name_in_dump": args["secret"] in dump,
    "tenants_by_name": tenants_by_name,
}))
"""


def test_the_database_records_the_scenario_in_the_clients_tenant(
    mlmeta_server,
    tenant,
    pipeline_run,
    cached_runs,
    loaded_output,
    tagged_run,
    run_metadata,
    model_version,
    kept_secret,
    described_stack,
):
    # Last: the secret test above has deleted its secret by now.
    first, second = cached_runs
    other = next(key for key in TENANT_KEYS if key != tenant.key)
    args = {
        "runs": [pipeline_run["id"], first["id"], second["id"]],
        "model": tenant.name("e2e-model"),
        "stack": tenant.name("e2e-stack"),
        "secret": tenant.name("e2e-kept-secret"),
        "plaintext": [kept_secret, "e2e-t0k3n", "e2e-renamed", "e2e-user"],
        "names": {kind: names(tenant.key)[kind] + names(other)[kind] for kind in names(tenant.key)},
    }
    code = INSPECT.replace("ARGS", repr(json.dumps(args)), 1)
    db = json.loads(mlmeta_server.manage("shell", "-v", "0", "-c", code).splitlines()[-1])
    slug = db["default"] if tenant.key == "root" else "acme"

    runs = db["runs"]
    for run, pipeline in (
        (pipeline_run, "e2e_pipeline"),
        (first, "e2e_cached_pipeline"),
        (second, "e2e_cached_pipeline"),
    ):
        recorded = runs[run["id"]]
        assert recorded["tenant"] == slug and recorded["status"] == "completed", recorded
        assert set(recorded["steps"]) == {"produce", "consume"}
        for name, step in recorded["steps"].items():
            assert step["id"] == run["steps"][name]["id"] and step["tenant"] == slug
            outputs = {output["id"] for output in step["outputs"]}
            assert outputs == set(run["steps"][name]["outputs"]["output"])
            assert all(output["tenant"] == slug for output in step["outputs"]), step
            assert {output["artifact"] for output in step["outputs"]} == {f"{pipeline}::{name}::output"}
    for name, step in runs[second["id"]]["steps"].items():
        assert step["status"] == "cached" and step["original"] == first["steps"][name]["id"]
    for step in runs[first["id"]]["steps"].values():
        assert step["status"] == "completed" and step["original"] == ""
    (produced,) = runs[pipeline_run["id"]]["steps"]["produce"]["outputs"]
    assert produced["version"] == loaded_output["version"]

    assert db["tags"] == [[tenant.name("e2e-tag"), slug, slug, "pipeline_run"]]
    assert db["metadata"] == {"e2e_score": [0.93, slug], "e2e_note": ["hello", slug]}
    assert db["model"] == {"tenant": slug, "versions": [[1, "v1", slug]]}
    components = sorted([tenant.name(base), slug] for base in ("e2e-orchestrator", "e2e-store"))
    assert db["stack"] == {"tenant": slug, "components": components}
    assert db["secret"] == {"tenant": slug, "keys": ["api_token"]}
    # The dump holds the secret's row (its name shows) but none of the values ever stored.
    assert db["secret_rows"] > 0 and db["name_in_dump"] and db["plaintext_found"] == []

    # Each name of this tenant's scenario is in this tenant only (the deleted secret nowhere); the
    # other tenant's names, made already or not, never here.
    for kind, found in db["tenants_by_name"].items():
        for name in names(tenant.key)[kind]:
            assert found[name] == ([] if name == tenant.name("e2e-secret") else [slug]), (kind, name, found)
        for name in names(other)[kind]:
            assert slug not in found[name], (kind, name, found)
