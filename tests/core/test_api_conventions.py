"""The wire conventions of wire.md sections 1-7, checked on a few resources."""

import pytest
from django.test import Client

from mlmeta.models import Stack, StackComponent
from tenants import access
from tenants.models import Project, User
from tenants.services import create_tenant
from tests.api_helpers import bearer_client
from tests.conftest import PASSWORD


@pytest.fixture
def admin(tenant):
    user = User.objects.create_user("admin", password=PASSWORD, is_superuser=True)
    access.add_member(tenant, user)
    return user


def test_info_is_public_and_reports_the_zenml_version(client, tenant):
    data = client.get("/api/v1/info").json()
    assert data["version"] == "0.98.0"
    assert data["id"] == str(tenant.pk)
    assert data["auth_scheme"] == "OAUTH2_PASSWORD_BEARER"
    assert data["deployment_type"] == "other"
    assert data["active"] is True
    assert data["metadata"]["mlmeta_version"]


def test_version_is_a_json_string(client, tenant):
    assert client.get("/api/v1/version").json() == "0.98.0"


def test_missing_credentials_get_401_with_bearer_challenge(client, tenant):
    response = client.get("/api/v1/current-user?hydrate=True")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_garbage_token_is_credentials_not_valid(client, tenant):
    response = client.get("/api/v1/current-user", HTTP_AUTHORIZATION="Bearer abc.def")
    assert response.status_code == 401
    assert response.json()["detail"][0] == "CredentialsNotValid"


def test_password_login_issues_a_working_token(client, admin, tenant):
    response = client.post("/api/v1/login", {"grant_type": "password", "username": "admin", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert f"zenml-server-{tenant.pk}" in response.cookies
    me = client.get("/api/v1/current-user?hydrate=True", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == 200
    assert me.json()["name"] == "admin"
    assert me.json()["body"]["is_admin"] is True
    assert me.json()["metadata"]["user_metadata"] == {}


def test_wrong_password_and_unknown_grant(client, admin, tenant):
    response = client.post("/api/v1/login", {"username": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {"detail": ["CredentialsNotValid", "Authentication error: invalid username or password"]}
    response = client.post("/api/v1/login", {"grant_type": "nope"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Unsupported grant type: nope"}


def test_token_of_one_tenant_is_refused_by_another(admin, tenant, db):
    other = create_tenant("other")
    access.add_member(other, admin)
    api = bearer_client(admin, tenant)
    assert api.get("/t/other/api/v1/current-user").status_code == 401
    assert api.get("/api/v1/current-user").status_code == 200


def test_page_shape_and_bounds(api, tenant):
    page = api.get("/api/v1/flavors?page=1&size=5&sort_by=name").json()
    assert page["index"] == 1 and page["max_size"] == 5
    assert page["total"] == 82 and page["total_pages"] == 17
    assert len(page["items"]) == 5
    response = api.get("/api/v1/flavors?page=99&size=5")
    assert response.status_code == 400
    assert response.json()["detail"][0] == "ValueError"
    assert "maximum page value therefore is 17" in response.json()["detail"][1]
    response = api.get("/api/v1/flavors?size=100000")
    assert response.status_code == 422
    assert isinstance(response.json(), list) and response.json()[0] == "ValueError"
    empty = api.get("/api/v1/stacks?name=nothing").json()
    assert (empty["total"], empty["total_pages"], empty["items"]) == (0, 1, [])


def test_filter_operators_and_logical_or(api, tenant):
    def names(query):
        return sorted(item["name"] for item in api.get(f"/api/v1/flavors?size=100&{query}").json()["items"])

    assert names("name=local&type=orchestrator") == ["local"]
    assert names("name=equals:local&type=artifact_store") == ["local"]
    assert "kubernetes" in names("name=startswith:kube")
    assert all("docker" in n for n in names("name=contains:docker"))
    assert names('type=orchestrator&name=oneof:["local","local_docker"]') == ["local", "local_docker"]
    assert "local" not in names("type=orchestrator&name=notequals:local")
    assert set(names("logical_operator=or&name=local&name=kubernetes")) >= {"local", "kubernetes"}
    response = api.get("/api/v1/flavors?type=spaceship")
    assert response.status_code == 422


def test_sort_by_direction(api, tenant):
    items = api.get("/api/v1/flavors?type=orchestrator&sort_by=desc:name&size=100").json()["items"]
    assert [i["name"] for i in items] == sorted((i["name"] for i in items), reverse=True)
    assert api.get("/api/v1/flavors?sort_by=desc:nonsense").status_code == 422


def test_hydration_controls_metadata(api, tenant):
    stack = Stack.objects.get(tenant=tenant, name="default")
    plain = api.get("/api/v1/stacks?name=default").json()["items"][0]
    assert plain["metadata"] is None and plain["resources"] == {"user": None}
    full = api.get(f"/api/v1/stacks/{stack.pk}?hydrate=True").json()
    assert set(full["metadata"]["components"]) == {"orchestrator", "artifact_store", "deployer"}
    orchestrator = full["metadata"]["components"]["orchestrator"][0]
    assert orchestrator["body"]["flavor_name"] == "local"
    assert orchestrator["body"]["integration"] == "built-in"
    assert orchestrator["metadata"] is None


def test_components_by_stack_carry_the_flavor_source(api, tenant):
    stack = Stack.objects.get(tenant=tenant, name="default")
    page = api.get(f"/api/v1/components?hydrate=True&stack_id={stack.pk}").json()
    assert page["total"] == 3
    sources = {i["body"]["type"]: i["resources"]["flavor"]["body"]["source"] for i in page["items"]}
    assert sources["orchestrator"] == "zenml.orchestrators.local.local_orchestrator.LocalOrchestratorFlavor"


def test_not_found_bodies(api, tenant):
    response = api.get("/api/v1/stacks/ae702c66-d19f-4a25-8c50-bb467edb678d")
    assert response.status_code == 404
    assert response.json()["detail"][0] == "KeyError"
    response = api.get("/api/v1/stacks/not-a-uuid")
    assert response.status_code == 422 and response.json()[0] == "ValueError"
    response = api.get("/api/v1/does-not-exist")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_create_returns_200_and_duplicates_409(api, tenant):
    body = {"name": "orch", "type": "orchestrator", "flavor": "local", "configuration": {}}
    created = api.post("/api/v1/components", body, format="json")
    assert created.status_code == 200
    assert created.json()["name"] == "orch"
    duplicate = api.post("/api/v1/components", body, format="json")
    assert duplicate.status_code == 409
    assert duplicate.json()["detail"][0] == "EntityExistsError"


def test_request_validation_is_a_bare_422_list(api, tenant):
    response = api.post("/api/v1/components", {"type": "orchestrator"}, format="json")
    assert response.status_code == 422
    body = response.json()
    assert body[0] == "ValueError"
    assert "'missing'" in body[1] and "'name'" in body[1]


def test_stack_needs_orchestrator_and_artifact_store(api, tenant):
    orchestrator = StackComponent.objects.get(tenant=tenant, type="orchestrator", name="default")
    response = api.post(
        "/api/v1/stacks", {"name": "half", "components": {"orchestrator": [str(orchestrator.pk)]}}, format="json"
    )
    assert response.status_code == 422
    assert not Stack.objects.filter(name="half").exists()


def test_default_stack_cannot_be_deleted(api, tenant):
    stack = Stack.objects.get(tenant=tenant, name="default")
    response = api.delete(f"/api/v1/stacks/{stack.pk}")
    assert response.status_code == 403
    assert response.json()["detail"][0] == "IllegalOperationError"


def test_projects_by_name_or_id(api, tenant):
    project = Project.objects.get(tenant=tenant, name="default")
    assert api.get("/api/v1/projects/default").json()["id"] == str(project.pk)
    data = api.get(f"/api/v1/projects/{project.pk}?hydrate=True").json()
    assert data["body"]["display_name"] == "default"
    assert data["metadata"] == {"description": "", "project_metadata": {}}
    response = api.post("/api/v1/projects", {"name": "Bad Name!"}, format="json")
    assert response.status_code == 422


def test_post_to_unknown_route_is_404_not_csrf_403(tenant):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/does-not-exist", {"a": 1}, content_type="application/json")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
