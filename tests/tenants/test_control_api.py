"""The control-plane API (/api/control/v1): CRUD as an org admin, refusals for lesser roles, no
role and another organization, privilege escalation (403 + audit event), API keys against
/api/v1, the audit log's filters, and the committed OpenAPI schema."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from mlmeta.models import Stack
from tenants import access
from tenants.models import APIKey, AuditEvent, Invitation, Organization, Project, RoleAssignment, Team, Tenant, User
from tests.api_helpers import bearer_client
from tests.conftest import make_user

BASE = "/api/control/v1"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key_client(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def denied(actor, part: str = "") -> bool:
    return AuditEvent.objects.filter(action="permission_denied", actor=actor, detail__icontains=part).exists()


@pytest.fixture
def org(tenant_a):
    return tenant_a.organization


@pytest.fixture
def olga(org):
    """Organization admin of tenant A's organization."""
    user = User.objects.create_user("olga", password="x", email="olga@example.com")
    access.assign_role("org-admin", user=user, organization=org)
    return user


@pytest.fixture
def api(olga):
    return client_for(olga)


@pytest.fixture
def bob(tenant_a):
    """Tenant viewer of A."""
    return make_user("bob", tenant_a, role="tenant-viewer")


@pytest.fixture
def nobody(db):
    return User.objects.create_user("nobody", password="x")


@pytest.fixture
def stranger(db):
    """Organization admin of another organization."""
    other_org = Organization.objects.create(slug="globex", name="Globex")
    user = User.objects.create_user("stranger", password="x")
    access.assign_role("org-admin", user=user, organization=other_org)
    return user


# --- organizations and tenants ---------------------------------------------------------------
def test_org_admin_reads_and_updates_the_organization(api, org):
    listed = api.get(f"{BASE}/organizations/").json()
    assert [o["slug"] for o in listed["results"]] == ["acme"]
    response = api.patch(f"{BASE}/organizations/{org.pk}/", {"description": "ours"}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "ours"
    assert AuditEvent.objects.filter(action="update", resource_type="organization", via="control").exists()


def test_only_operators_create_organizations(api, olga):
    assert api.post(f"{BASE}/organizations/", {"slug": "x", "name": "X"}, format="json").status_code == 403
    root = User.objects.create_superuser("root", password="x")
    response = client_for(root).post(f"{BASE}/organizations/", {"slug": "x", "name": "X"}, format="json")
    assert response.status_code == 201


def test_create_tenant_seeds_default_project_and_stack(api, org):
    response = api.post(
        f"{BASE}/tenants/", {"organization": str(org.pk), "slug": "gamma", "name": "Gamma"}, format="json"
    )
    assert response.status_code == 201, response.content
    tenant = Tenant.objects.get(slug="gamma")
    assert Project.objects.filter(tenant=tenant, name="default").exists()
    assert Stack.objects.filter(tenant=tenant, name="default").exists()


def test_create_tenant_with_bad_slug_is_400(api, org):
    response = api.post(f"{BASE}/tenants/", {"organization": str(org.pk), "slug": "Bad Slug!"}, format="json")
    assert response.status_code == 400


def test_rename_deactivate_and_delete_tenant(api, tenant_b, alice, tenant_a):
    url = f"{BASE}/tenants/{tenant_b.pk}/"
    assert api.patch(url, {"name": "Beta 2"}, format="json").json()["name"] == "Beta 2"
    charlie = make_user("charlie", tenant_b, is_admin=True)
    token_client = bearer_client(charlie, tenant_b)
    assert token_client.get("/t/beta/api/v1/current-user").status_code == 200
    assert api.patch(url, {"active": False}, format="json").json()["active"] is False
    assert token_client.get("/t/beta/api/v1/current-user").status_code in (401, 403, 404)
    assert api.delete(url).status_code == 204
    assert not Tenant.objects.filter(pk=tenant_b.pk).exists()


def test_default_tenant_cannot_be_deleted(api, tenant_a):
    assert api.delete(f"{BASE}/tenants/{tenant_a.pk}/").status_code == 400


def test_tenant_viewer_reads_tenant_but_cannot_change_it(bob, tenant_a, tenant_b):
    api = client_for(bob)
    assert [t["slug"] for t in api.get(f"{BASE}/tenants/").json()["results"]] == ["alpha"]
    assert api.patch(f"{BASE}/tenants/{tenant_a.pk}/", {"name": "mine"}, format="json").status_code == 403
    assert denied(bob)
    assert api.get(f"{BASE}/tenants/{tenant_b.pk}/").status_code == 404
    assert api.get(f"{BASE}/tenants/{tenant_a.pk}/members/").status_code == 403


def test_user_without_role_sees_nothing(nobody, tenant_a, org):
    api = client_for(nobody)
    for resource in ("organizations", "tenants", "teams", "role-assignments", "invitations", "audit-events"):
        assert api.get(f"{BASE}/{resource}/").json()["results"] == [], resource
    assert api.post(f"{BASE}/tenants/", {"organization": str(org.pk), "slug": "x"}, format="json").status_code == 400
    assert api.delete(f"{BASE}/tenants/{tenant_a.pk}/").status_code == 404


def test_other_organization_cannot_touch_ours(stranger, tenant_a, org, olga):
    api = client_for(stranger)
    assert api.get(f"{BASE}/tenants/{tenant_a.pk}/").status_code == 404
    assert api.get(f"{BASE}/organizations/{org.pk}/members/").status_code == 404
    body = {"role": "tenant-admin", "tenant": str(tenant_a.pk), "user": str(stranger.pk)}
    assert api.post(f"{BASE}/role-assignments/", body, format="json").status_code == 400
    assert not RoleAssignment.objects.filter(user=stranger, tenant=tenant_a).exists()


def test_anonymous_is_401(db):
    response = APIClient().get(f"{BASE}/tenants/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"


# --- members ------------------------------------------------------------------------------------
def test_tenant_and_organization_members(api, org, tenant_a, alice, bob):
    members = api.get(f"{BASE}/tenants/{tenant_a.pk}/members/").json()["results"]
    assert {m["name"]: [r["role"] for r in m["roles"]] for m in members} == {
        "alice": ["tenant-admin"],
        "bob": ["tenant-viewer"],
    }
    names = [m["name"] for m in api.get(f"{BASE}/organizations/{org.pk}/members/").json()["results"]]
    assert names == ["alice", "bob", "olga"]


def test_add_and_remove_tenant_member(api, tenant_a, nobody):
    url = f"{BASE}/tenants/{tenant_a.pk}/members/"
    nobody_in_org = make_user("dora", tenant_a, role="tenant-viewer")
    response = api.post(url, {"user": str(nobody_in_org.pk), "role": "stack-admin"}, format="json")
    assert response.status_code == 201, response.content
    assert sorted(r["role"] for r in response.json()["roles"]) == ["stack-admin", "tenant-viewer"]
    assert api.delete(f"{url}{nobody_in_org.pk}/").status_code == 204
    assert not RoleAssignment.objects.filter(user=nobody_in_org, tenant=tenant_a).exists()
    assert AuditEvent.objects.filter(action="role_revoked", changes__subject="dora").count() == 2


# --- teams, roles, assignments, invitations ----------------------------------------------------
def test_team_crud_and_members(api, org, alice):
    response = api.post(f"{BASE}/teams/", {"organization": str(org.pk), "name": "ml"}, format="json")
    assert response.status_code == 201, response.content
    team_id = response.json()["id"]
    response = api.post(f"{BASE}/teams/{team_id}/members/", {"user": str(alice.pk)}, format="json")
    assert [m["name"] for m in response.json()["members"]] == ["alice"]
    assert api.patch(f"{BASE}/teams/{team_id}/", {"description": "ML people"}, format="json").status_code == 200
    assert api.delete(f"{BASE}/teams/{team_id}/members/{alice.pk}/").status_code == 204
    assert api.delete(f"{BASE}/teams/{team_id}/").status_code == 204
    assert not Team.objects.exists()


def test_roles_list_builtin_and_custom(api, org):
    slugs = {r["slug"] for r in api.get(f"{BASE}/roles/?page_size=100").json()["results"]}
    assert {"org-admin", "tenant-viewer", "project-viewer"} <= slugs
    body = {"organization": str(org.pk), "name": "Stack viewer", "base": "tenant-viewer", "add": ["stack:update"]}
    response = api.post(f"{BASE}/roles/", body, format="json")
    assert response.status_code == 201, response.content
    role = response.json()
    assert role["level"] == "tenant" and "stack:update" in role["permissions"] and not role["builtin"]
    response = api.patch(f"{BASE}/roles/{role['id']}/", {"permissions": ["stack:read"]}, format="json")
    assert response.json()["permissions"] == ["stack:read"]
    assert api.delete(f"{BASE}/roles/{role['id']}/").status_code == 204


def test_editing_builtin_role_is_403_and_audited(api, olga):
    viewer = next(r for r in api.get(f"{BASE}/roles/?page_size=100").json()["results"] if r["slug"] == "tenant-viewer")
    response = api.patch(f"{BASE}/roles/{viewer['id']}/", {"permissions": ["stack:delete"]}, format="json")
    assert response.status_code == 403 and "Predefined" in response.json()["detail"]
    assert api.delete(f"{BASE}/roles/{viewer['id']}/").status_code == 403
    assert denied(olga, "Predefined")


def test_role_assignment_create_list_delete(api, tenant_a, bob, olga):
    body = {"role": "stack-admin", "tenant": str(tenant_a.pk), "user": str(bob.pk)}
    response = api.post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code == 201, response.content
    assignment = response.json()
    assert assignment["scope"] == "tenant" and assignment["role"] == "stack-admin"
    event = AuditEvent.objects.get(action="role_assigned", actor=olga)
    assert event.changes["role"] == "stack-admin" and event.changes["subject"] == "bob"
    listed = api.get(f"{BASE}/role-assignments/?user={bob.pk}").json()["results"]
    assert {a["role"] for a in listed} == {"stack-admin", "tenant-viewer"}
    assert api.delete(f"{BASE}/role-assignments/{assignment['id']}/").status_code == 204
    assert AuditEvent.objects.filter(action="role_revoked", actor=olga, changes__role="stack-admin").exists()


def test_role_assignment_at_project_scope(api, tenant_a, bob):
    project = Project.objects.get(tenant=tenant_a, name="default")
    body = {"role": "project-admin", "project": str(project.pk), "user": str(bob.pk)}
    response = api.post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code == 201 and response.json()["scope"] == "project"
    body = {"role": "tenant-admin", "project": str(project.pk), "user": str(bob.pk)}
    assert api.post(f"{BASE}/role-assignments/", body, format="json").status_code == 400


def test_granting_oneself_tenant_admin_is_403(tenant_a):
    dev = make_user("dev", tenant_a, role="tenant-developer")
    api = client_for(dev)
    body = {"role": "tenant-admin", "tenant": str(tenant_a.pk), "user": str(dev.pk)}
    response = api.post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code == 403
    assert not RoleAssignment.objects.filter(user=dev, role__slug="tenant-admin").exists()
    assert denied(dev)


def test_tenant_admin_cannot_make_themselves_org_admin(alice, org):
    body = {"role": "org-admin", "organization": str(org.pk), "user": str(alice.pk)}
    response = client_for(alice).post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code in (400, 403)
    assert not RoleAssignment.objects.filter(user=alice, role__slug="org-admin").exists()


def test_tenant_admin_cannot_assign_self(alice, tenant_a):
    body = {"role": "stack-admin", "tenant": str(tenant_a.pk), "user": str(alice.pk)}
    response = client_for(alice).post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code == 403 and "yourself" in response.json()["detail"]
    assert denied(alice, "yourself")


def test_developer_granting_tenant_admin_to_someone_is_403(tenant_a, bob):
    dev = make_user("dev", tenant_a, role="tenant-developer")
    body = {"role": "tenant-admin", "tenant": str(tenant_a.pk), "user": str(bob.pk)}
    response = client_for(dev).post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code in (400, 403)
    assert not RoleAssignment.objects.filter(user=bob, role__slug="tenant-admin").exists()


def test_tenant_admin_grants_within_their_tenant(alice, tenant_a, bob):
    body = {"role": "tenant-admin", "tenant": str(tenant_a.pk), "user": str(bob.pk)}
    response = client_for(alice).post(f"{BASE}/role-assignments/", body, format="json")
    assert response.status_code == 201, response.content


def test_invitation_create_and_accept(api, org, tenant_a):
    team = access.create_team(org, "ml")
    body = {
        "organization": str(org.pk),
        "email": "newbie@example.com",
        "roles": [{"role": "tenant-viewer", "tenant": str(tenant_a.pk)}],
        "teams": [str(team.pk)],
    }
    response = api.post(f"{BASE}/invitations/", body, format="json")
    assert response.status_code == 201, response.content
    token = response.json()["token"]
    listed = api.get(f"{BASE}/invitations/").json()["results"]
    assert "token" not in listed[0] and listed[0]["roles"][0]["role"] == "tenant-viewer"
    accept = {"token": token, "username": "newbie", "password": "a-long-enough-passphrase"}
    response = APIClient().post(f"{BASE}/invitations/accept/", accept, format="json")
    assert response.status_code == 201, response.content
    newbie = User.objects.get(username="newbie")
    assert newbie.email == "newbie@example.com" and newbie.check_password("a-long-enough-passphrase")
    assert RoleAssignment.objects.filter(user=newbie, tenant=tenant_a, role__slug="tenant-viewer").exists()
    assert team.members.filter(pk=newbie.pk).exists()
    assert Invitation.objects.get().accepted is not None
    again = APIClient().post(f"{BASE}/invitations/accept/", {**accept, "username": "twice"}, format="json")
    assert again.status_code == 400


def test_invitation_with_role_above_the_inviter_is_403(alice, org, tenant_a):
    body = {"organization": str(org.pk), "email": "x@example.com", "roles": [{"role": "tenant-admin"}]}
    response = client_for(alice).post(f"{BASE}/invitations/", body, format="json")
    assert response.status_code in (400, 403)
    assert not Invitation.objects.exists()


# --- service accounts and API keys -------------------------------------------------------------
@pytest.fixture
def robot(api, org, tenant_a):
    response = api.post(f"{BASE}/service-accounts/", {"organization": str(org.pk), "name": "ci-bot"}, format="json")
    assert response.status_code == 201, response.content
    account = User.objects.get(username="ci-bot")
    access.assign_role("tenant-developer", user=account, tenant=tenant_a)
    return account


def new_key(api, account, **extra) -> dict:
    body = {"service_account": str(account.pk), "name": extra.pop("name", "main"), **extra}
    response = api.post(f"{BASE}/api-keys/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def login_with_key(plaintext: str):
    return APIClient().post("/api/v1/login", {"grant_type": "zenml-api-key", "password": plaintext})


def test_service_account_crud(api, robot):
    listed = api.get(f"{BASE}/service-accounts/").json()["results"]
    assert [a["name"] for a in listed] == ["ci-bot"]
    response = api.patch(f"{BASE}/service-accounts/{robot.pk}/", {"description": "CI", "active": False}, format="json")
    assert response.json()["active"] is False and response.json()["description"] == "CI"


def test_api_key_shown_once_and_authenticates_control_plane(api, robot):
    key = new_key(api, robot)
    assert key["key"].startswith("ZENKEY_")
    detail = api.get(f"{BASE}/api-keys/{key['id']}/").json()
    assert "key" not in detail and "key_hash" not in detail
    me = key_client(key["key"])
    assert me.get(f"{BASE}/api-keys/").status_code == 200
    assert APIKey.objects.get(pk=key["id"]).last_login is not None
    assert key_client("ZENKEY_garbage").get(f"{BASE}/tenants/").status_code == 401


def test_api_key_last_login_is_written_at_most_once_a_minute(api, robot):
    """The control plane takes the key on every request; its last login is not rewritten each time,
    but a deactivated key is still refused on its very next request."""
    key = new_key(api, robot)
    me = key_client(key["key"])
    assert me.get(f"{BASE}/api-keys/").status_code == 200
    first = APIKey.objects.get(pk=key["id"]).last_login
    assert me.get(f"{BASE}/api-keys/").status_code == 200
    assert APIKey.objects.get(pk=key["id"]).last_login == first
    stale = first - timedelta(minutes=2)
    APIKey.objects.filter(pk=key["id"]).update(last_login=stale)
    assert me.get(f"{BASE}/api-keys/").status_code == 200
    assert APIKey.objects.get(pk=key["id"]).last_login > first
    robot.refresh_from_db()
    assert robot.last_login > stale
    APIKey.objects.filter(pk=key["id"]).update(active=False)
    assert me.get(f"{BASE}/api-keys/").status_code == 401


def test_api_key_login_against_api_v1_stops_when_deactivated(api, robot):
    key = new_key(api, robot)
    response = login_with_key(key["key"])
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    v1 = APIClient()
    v1.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert v1.get("/api/v1/current-user").status_code == 200
    api.patch(f"{BASE}/api-keys/{key['id']}/", {"active": False}, format="json")
    assert v1.get("/api/v1/current-user").status_code == 401
    assert login_with_key(key["key"]).status_code == 401


def test_api_key_rotate_and_expiry_take_effect_at_once(api, robot):
    key = new_key(api, robot)
    rotated = api.post(f"{BASE}/api-keys/{key['id']}/rotate/", {"retain_period_minutes": 0}, format="json").json()
    assert rotated["key"] != key["key"]
    assert login_with_key(key["key"]).status_code == 401
    assert login_with_key(rotated["key"]).status_code == 200
    assert AuditEvent.objects.filter(action="key_rotated").exists()
    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    api.patch(f"{BASE}/api-keys/{key['id']}/", {"expires": soon}, format="json")
    APIKey.objects.filter(pk=key["id"]).update(expires=timezone.now() - timedelta(seconds=1))
    assert login_with_key(rotated["key"]).status_code == 401


def test_rotation_retains_previous_key(api, robot):
    key = new_key(api, robot)
    api.post(f"{BASE}/api-keys/{key['id']}/rotate/", {"retain_period_minutes": 30}, format="json")
    assert login_with_key(key["key"]).status_code == 200


def test_service_account_key_cannot_create_key_for_another_account(api, robot, org):
    other = access.create_service_account(org, "other-bot")
    key = new_key(api, robot)
    bot = key_client(key["key"])
    body = {"service_account": str(other.pk), "name": "stolen"}
    response = bot.post(f"{BASE}/api-keys/", body, format="json")
    assert response.status_code in (400, 403)
    assert not APIKey.objects.filter(service_account=other).exists()
    own = bot.post(f"{BASE}/api-keys/", {"service_account": str(robot.pk), "name": "second"}, format="json")
    assert own.status_code == 201


def test_api_key_of_privileged_account_cannot_key_another(org, tenant_a):
    """Even an account allowed to manage service accounts may not mint keys for another one
    with its API key: the key would impersonate that account."""
    boss = access.create_service_account(org, "boss-bot")
    access.assign_role("org-admin", user=boss, organization=org)
    other = access.create_service_account(org, "other-bot")
    _, plaintext = access.issue_api_key(boss, "main")
    response = key_client(plaintext).post(
        f"{BASE}/api-keys/", {"service_account": str(other.pk), "name": "x"}, format="json"
    )
    assert response.status_code == 403 and "another account" in response.json()["detail"]
    assert denied(boss, "another account")


def test_viewer_cannot_create_keys(bob, robot):
    response = client_for(bob).post(f"{BASE}/api-keys/", {"service_account": str(robot.pk), "name": "x"}, format="json")
    assert response.status_code in (400, 403)


def test_tenant_admin_cannot_key_an_account_that_holds_more_than_they_do(org, tenant_a, alice):
    """A key acts as its account: a tenant admin may manage the keys of a service account of
    their tenant, but not of one that also holds an organization role they lack (the key would
    make them org-admin). Found by tests/tenants/test_control_permission_matrix.py's hunt."""
    boss = access.create_service_account(org, "boss-bot")
    access.assign_role("org-admin", user=boss, organization=org)
    access.add_member(tenant_a, boss, "tenant-viewer")
    key, _ = access.issue_api_key(boss, "main")
    admin = client_for(alice)
    assert admin.get(f"{BASE}/service-accounts/{boss.pk}/").status_code == 200  # she sees it in her tenant
    minted = admin.post(f"{BASE}/api-keys/", {"service_account": str(boss.pk), "name": "mine"}, format="json")
    rotated = admin.post(f"{BASE}/api-keys/{key.pk}/rotate/", {"retain_period_minutes": 0}, format="json")
    deleted = admin.delete(f"{BASE}/api-keys/{key.pk}/")
    stopped = admin.patch(f"{BASE}/service-accounts/{boss.pk}/", {"active": False}, format="json")
    assert [r.status_code for r in (minted, rotated, deleted, stopped)] == [403, 403, 403, 403]
    boss.refresh_from_db()
    assert boss.is_active
    assert "do not hold" in minted.json()["detail"]
    assert list(APIKey.objects.filter(service_account=boss).values_list("name", "last_rotated")) == [("main", None)]
    assert denied(alice, "do not hold")
    robot = access.create_service_account(org, "tenant-bot")
    access.add_member(tenant_a, robot, "tenant-developer")
    ok = admin.post(f"{BASE}/api-keys/", {"service_account": str(robot.pk), "name": "mine"}, format="json")
    assert ok.status_code == 201, ok.content


# --- audit events ------------------------------------------------------------------------------
def test_audit_events_filter_and_paginate(api, olga, tenant_a, bob):
    access.grant("stack-admin", by=olga, user=bob, tenant=tenant_a)
    access.grant("tenant-viewer", by=olga, user=olga, tenant=tenant_a)
    events = api.get(f"{BASE}/audit-events/?action=role_assigned&actor=olga").json()
    assert events["count"] == 2
    assert {e["changes"]["subject"] for e in events["results"]} == {"bob", "olga"}
    by_id = api.get(f"{BASE}/audit-events/?actor={olga.pk}&tenant=alpha&action=role_assigned").json()
    assert by_id["count"] == 2
    future = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert api.get(f"{BASE}/audit-events/", {"since": future}).json()["count"] == 0
    page = api.get(f"{BASE}/audit-events/?page_size=1").json()
    assert len(page["results"]) == 1 and page["next"]
    assert api.get(f"{BASE}/audit-events/?since=yesterday").status_code == 400
    assert api.post(f"{BASE}/audit-events/", {}, format="json").status_code == 405


def test_viewer_cannot_read_audit_events(bob, olga, tenant_a):
    access.grant("stack-admin", by=olga, user=olga, tenant=tenant_a)
    assert client_for(bob).get(f"{BASE}/audit-events/").json()["results"] == []


# --- schema ------------------------------------------------------------------------------------
def test_committed_schema_matches_the_code():
    out = io.StringIO()
    call_command("spectacular", urlconf="tenants.control_api.schema_urls", stdout=out)
    committed = (Path(settings.BASE_DIR) / "docs" / "control-api.yaml").read_text()
    assert out.getvalue() == committed, (
        "docs/control-api.yaml is stale: run manage.py spectacular --urlconf tenants.control_api.schema_urls "
        "--file docs/control-api.yaml"
    )


def test_swagger_page_loads_nothing_external(db, client):
    response = client.get(f"{BASE}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert client.get(f"{BASE}/schema/").status_code == 200
