"""Roles seen through the real zenml client: in tenant `roles`, rita (tenant-admin) runs a
pipeline; vera (tenant-viewer) logs in, sees it and its artifacts, and is refused every change
with the client's permission error, writing nothing."""

from dataclasses import dataclass

import pytest

PIPELINE = "pipeline.py"
CLIENT_API = "client_api.py"
REFUSED = "Insufficient permissions"


@dataclass
class Person:
    username: str
    password: str


@pytest.fixture(scope="module")
def roles_tenant(mlmeta_server) -> str:
    """Tenant `roles` with rita (tenant-admin) and vera (tenant-viewer), made with the commands."""
    mlmeta_server.manage("create_tenant", "roles")
    for person, role in ((RITA, "tenant-admin"), (VERA, "tenant-viewer")):
        mlmeta_server.manage(
            "create_user",
            person.username,
            "--password",
            "-",
            "--tenant",
            "roles",
            "--role",
            role,
            input=person.password,
        )
    return f"{mlmeta_server.url}/t/roles"


RITA = Person("rita", "rita-Correct-Horse-1")
VERA = Person("vera", "vera-Correct-Horse-2")


@pytest.fixture(scope="module")
def rita(new_zenml_client, roles_tenant):
    return new_zenml_client(url=roles_tenant, username=RITA.username, password=RITA.password)


@pytest.fixture(scope="module")
def vera(new_zenml_client, roles_tenant):
    return new_zenml_client(url=roles_tenant, username=VERA.username, password=VERA.password)


@pytest.fixture(scope="module")
def admins_run(rita) -> dict:
    return rita.script(PIPELINE, "e2e_pipeline").ok().data


def rows(server, model: str, **where) -> int:
    code = f"from mlmeta.models import {model}; print({model}.objects.filter(**{where!r}).count())"
    return int(server.manage("shell", "-v", "0", "-c", code).split()[-1])


def test_viewer_sees_the_admins_run_and_its_steps(vera, admins_run):
    assert admins_run["status"] == "completed"
    shown = vera.script(CLIENT_API, "show-run", admins_run["id"]).ok().data
    assert shown["name"] == admins_run["name"] and shown["status"] == "completed"
    listed = vera.cli("pipeline", "runs", "list").ok()
    assert admins_run["name"] in listed.output, listed.describe()


def test_viewer_cannot_tag_register_or_delete(mlmeta_server, vera, admins_run):
    tags_before = rows(mlmeta_server, "Tag", tenant__slug="roles")
    for args in (
        ("tag", "register", "-n", "vera-tag"),
        ("stack", "register", "vera-stack", "-o", "default", "-a", "default"),
    ):
        refused = vera.cli(*args)
        assert refused.returncode != 0 and REFUSED in refused.output, refused.describe()
    refused = vera.script(CLIENT_API, "tag-run", admins_run["id"], "vera-tag")
    assert refused.returncode != 0 and REFUSED in refused.output, refused.describe()
    assert rows(mlmeta_server, "Tag", tenant__slug="roles") == tags_before
    assert rows(mlmeta_server, "Stack", tenant__slug="roles", name="vera-stack") == 0


def test_viewer_cannot_run_a_pipeline(mlmeta_server, vera, admins_run):
    runs_before = rows(mlmeta_server, "PipelineRun", tenant__slug="roles")
    refused = vera.script(PIPELINE, "e2e_pipeline")
    assert refused.returncode != 0 and REFUSED in refused.output, refused.describe()
    assert rows(mlmeta_server, "PipelineRun", tenant__slug="roles") == runs_before


def test_viewer_has_no_access_to_the_default_tenant(mlmeta_server, new_zenml_client, roles_tenant):
    stranger = new_zenml_client(url=mlmeta_server.url, username=VERA.username, password=VERA.password)
    refused = stranger.cli("pipeline", "runs", "list")
    assert refused.returncode != 0, refused.describe()
