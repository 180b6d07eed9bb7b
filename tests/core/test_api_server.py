"""Server-level endpoints: component types, statistics, settings, activation and flavor sync."""

import pytest
from rest_framework.test import APIClient

from mlmeta.models import Flavor, Pipeline, PipelineRun, Stack, StackComponent
from tenants import rbac
from tenants.models import Membership, Project, Tenant, User
from tests.api_helpers import bearer_client
from tests.conftest import PASSWORD, make_user

COMPONENT_TYPES = [
    "alerter",
    "annotator",
    "artifact_store",
    "container_registry",
    "data_validator",
    "experiment_tracker",
    "feature_store",
    "image_builder",
    "log_store",
    "model_deployer",
    "orchestrator",
    "step_operator",
    "model_registry",
    "deployer",
    "sandbox",
]


@pytest.fixture
def alice(tenant):
    return make_user("alice", tenant, is_admin=True)


@pytest.fixture
def bob(tenant):
    return make_user("bob", tenant)


@pytest.fixture
def admin_api(alice, tenant):
    return bearer_client(alice, tenant)


@pytest.fixture
def bob_api(bob, tenant):
    return bearer_client(bob, tenant)


# --- component types and statistics -------------------------------------------------------------
def test_component_types_are_the_fifteen_of_zenml(bob_api):
    response = bob_api.get("/api/v1/component-types")
    assert response.status_code == 200
    assert response.json() == COMPONENT_TYPES


def test_component_types_need_credentials(client, tenant):
    assert client.get("/api/v1/component-types").status_code == 401


def test_server_statistics_count_the_tenant_only(bob_api, tenant, other):
    Project.objects.create(tenant=tenant, name="second")
    Stack.objects.create(tenant=other, name="elsewhere")
    stats = bob_api.get("/api/v1/statistics").json()
    assert stats == {
        "stacks": Stack.objects.filter(tenant=tenant).count(),
        "components": StackComponent.objects.filter(tenant=tenant).count(),
        "projects": 2,
    }
    assert stats["stacks"] == 1 and stats["components"] == 3


def test_project_statistics_by_name_or_id(bob_api, tenant, bob):
    project = Project.objects.get(tenant=tenant, name="default")
    pipeline = Pipeline.objects.create(project=project, user=bob, name="train")
    PipelineRun.objects.create(project=project, user=bob, name="r1", pipeline=pipeline, status="completed")
    expected = {"pipelines": 1, "runs": 1}
    assert bob_api.get(f"/api/v1/projects/{project.pk}/statistics").json() == expected
    assert bob_api.get("/api/v1/projects/default/statistics").json() == expected


def test_project_statistics_of_another_tenant_are_not_found(bob_api, other):
    project = Project.objects.get(tenant=other, name="default")
    response = bob_api.get(f"/api/v1/projects/{project.pk}/statistics")
    assert response.status_code == 404
    assert response.json()["detail"][0] == "KeyError"


# --- settings ------------------------------------------------------------------------------------
def test_admin_updates_server_settings(admin_api, tenant):
    body = {"server_name": "Renamed", "logo_url": "https://example.com/logo.png", "display_updates": False}
    response = admin_api.put("/api/v1/settings", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["body"]["server_name"] == "Renamed"
    assert data["body"]["logo_url"] == "https://example.com/logo.png"
    assert data["body"]["display_updates"] is False
    assert data["metadata"] == {}
    tenant.refresh_from_db()
    assert (tenant.name, tenant.display_updates) == ("Renamed", False)
    assert admin_api.get("/api/v1/info").json()["name"] == "Renamed"


def test_member_cannot_update_settings(bob_api, tenant):
    response = bob_api.put("/api/v1/settings", {"server_name": "Mine"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"][0] == "IllegalOperationError"
    tenant.refresh_from_db()
    assert tenant.name == "Acme"


def test_operator_updates_settings_without_membership_flag(tenant):
    operator = make_user("root", tenant, is_superuser=True)
    response = bearer_client(operator, tenant).put("/api/v1/settings", {"display_announcements": True}, format="json")
    assert response.status_code == 200
    assert response.json()["body"]["display_announcements"] is True


@pytest.mark.parametrize(
    "body",
    [{"server_name": ""}, {"server_name": 5}, {"logo_url": "not a url"}, {"display_updates": "maybe"}, [1]],
)
def test_invalid_settings_are_422_and_change_nothing(admin_api, tenant, body):
    response = admin_api.put("/api/v1/settings", body, format="json")
    assert response.status_code == 422
    assert response.json()[0] == "ValueError"
    tenant.refresh_from_db()
    assert tenant.name == "Acme" and tenant.logo_url is None


# --- activation ----------------------------------------------------------------------------------
def test_activation_creates_the_first_admin(client, tenant):
    body = {"admin_username": "founder", "admin_password": PASSWORD, "server_name": "Founded"}
    response = client.put("/api/v1/activate", body, content_type="application/json")
    assert response.status_code == 200
    user = response.json()
    assert user["name"] == "founder"
    assert user["body"]["is_admin"] is True and user["body"]["active"] is True
    assert user["body"]["is_service_account"] is False
    assert user["metadata"]["password_changed_at"] is None
    created = User.objects.get(username="founder")
    assert not created.is_superuser  # an admin of this tenant, not an operator of the deployment
    assert created.pk in rbac.tenant_admin_ids(tenant)
    assert Tenant.objects.get(pk=tenant.pk).name == "Founded"
    login = client.post("/api/v1/login", {"username": "founder", "password": PASSWORD})
    assert login.status_code == 200


def test_activation_of_an_administered_tenant_is_refused(client, tenant, alice):
    body = {"admin_username": "intruder", "admin_password": PASSWORD}
    response = client.put("/api/v1/activate", body, content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"detail": ["IllegalOperationError", "The server has already been activated."]}
    assert not User.objects.filter(username="intruder").exists()


def test_second_activation_is_refused(client, tenant):
    first = {"admin_username": "founder", "admin_password": PASSWORD}
    assert client.put("/api/v1/activate", first, content_type="application/json").status_code == 200
    second = {"admin_username": "latecomer", "admin_password": PASSWORD}
    assert client.put("/api/v1/activate", second, content_type="application/json").status_code == 403
    assert not User.objects.filter(username="latecomer").exists()


def test_a_tenant_with_members_is_not_up_for_grabs(client, tenant, bob):
    body = {"admin_username": "intruder", "admin_password": PASSWORD}
    response = client.put("/api/v1/activate", body, content_type="application/json")
    assert response.status_code == 403
    assert "already has members" in response.json()["detail"][1]
    assert not User.objects.filter(username="intruder").exists()


def test_an_operator_member_counts_as_admin(client, tenant):
    make_user("root", tenant, is_superuser=True)
    body = {"admin_username": "founder", "admin_password": PASSWORD}
    assert client.put("/api/v1/activate", body, content_type="application/json").status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"admin_username": "founder"}, 422),
        ({"admin_password": PASSWORD}, 422),
        ({"admin_username": "founder", "admin_password": "123"}, 422),
        ({"admin_username": "bad name!", "admin_password": PASSWORD}, 422),
        ({"admin_username": "founder", "admin_password": PASSWORD, "logo_url": "nope"}, 422),
        ({"admin_username": ["x"], "admin_password": PASSWORD}, 422),
    ],
)
def test_invalid_activation_creates_nothing(client, tenant, body, status):
    response = client.put("/api/v1/activate", body, content_type="application/json")
    assert response.status_code == status
    assert not Membership.objects.filter(tenant=tenant).exists()
    assert not User.objects.exists()


def test_activation_with_a_taken_username_is_a_conflict(client, tenant, other):
    make_user("founder", other)
    body = {"admin_username": "founder", "admin_password": PASSWORD}
    response = client.put("/api/v1/activate", body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["detail"][0] == "EntityExistsError"
    assert not Membership.objects.filter(tenant=tenant).exists()


def test_activation_is_per_tenant(client, tenant, alice, other):
    body = {"admin_username": "founder", "admin_password": PASSWORD}
    response = client.put("/t/other/api/v1/activate", body, content_type="application/json")
    assert response.status_code == 200
    assert Membership.objects.get(member__username="founder").tenant == other


# --- flavor sync ---------------------------------------------------------------------------------
def test_flavor_sync_restores_the_builtin_flavors(admin_api, tenant):
    local = Flavor.objects.get(tenant=tenant, type="orchestrator", name="local")
    local.source = "somewhere.Else"
    local.save()
    Flavor.objects.filter(tenant=tenant, type="orchestrator", name="local_docker").delete()
    custom = Flavor.objects.create(
        tenant=tenant, name="mine", type="orchestrator", source="my.Flavor", integration="custom", is_custom=True
    )
    stale = Flavor.objects.create(tenant=tenant, name="gone", type="orchestrator", source="old.Flavor", is_custom=False)
    response = admin_api.patch("/api/v1/flavors/sync")
    assert response.status_code == 200
    assert response.json() is None
    local.refresh_from_db()
    assert local.source == "zenml.orchestrators.local.local_orchestrator.LocalOrchestratorFlavor"
    assert local.pk == Flavor.objects.get(tenant=tenant, type="orchestrator", name="local").pk
    assert Flavor.objects.filter(tenant=tenant, name="local_docker").exists()
    assert Flavor.objects.filter(pk=custom.pk).exists()
    assert not Flavor.objects.filter(pk=stale.pk).exists()
    assert Flavor.objects.filter(tenant=tenant, is_custom=False).count() == 82


def test_flavor_sync_needs_an_admin(bob_api, tenant):
    Flavor.objects.filter(tenant=tenant, name="local_docker").delete()
    response = bob_api.patch("/api/v1/flavors/sync")
    assert response.status_code == 403
    assert not Flavor.objects.filter(tenant=tenant, name="local_docker").exists()


def test_unauthenticated_settings_and_statistics_get_401(tenant):
    client = APIClient()
    for path in ("/api/v1/settings", "/api/v1/statistics"):
        assert client.get(path).status_code == 401
    assert client.put("/api/v1/settings", {}, format="json").status_code == 401
